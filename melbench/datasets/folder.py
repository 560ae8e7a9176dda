"""``folder``: every audio file under a directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import InputError, ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .base import AUDIO_EXTENSIONS, Clip, clip_from_file


class Folder(Dataset):
    """All wav/flac/ogg/aiff files under ``path`` (sorted; ids are relative paths)."""

    name: ClassVar[str] = "folder"

    @dataclass
    class Params:
        """Parameters of the folder dataset.

        Attributes
        ----------
        path : str
            Directory to scan.
        recursive : bool
            Descend into sub-directories.
        """

        path: str = "???"
        recursive: bool = True

    def validate(self) -> None:
        """Require a path."""
        if self.params.path in ("", "???"):
            raise ParameterError("dataset 'folder' needs a directory: dataset.path=/some/dir")

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield one clip per audio file; unreadable files yield a clip with ``error``."""
        root = Path(self.params.path).expanduser()
        if not root.is_dir():
            raise InputError(f"dataset 'folder': {root} is not a directory")
        pattern = "**/*" if self.params.recursive else "*"
        files = sorted(p for p in root.glob(pattern) if p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            raise InputError(
                f"dataset 'folder': no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {root}"
            )
        for p in files:
            cid = str(p.relative_to(root).with_suffix(""))
            yield clip_from_file(p, cid, spec.sample_rate, {"kind": "audio"})
