"""``mels``: mel spectrograms predicted by a model (``.npy``, or ``.pt`` with torch).

Each file holds one mel ``(n_mels, frames)`` (a leading batch axis of size 1 is
dropped) made with the run's spec: same rate, hop, bands, power and
compression. Files are read without unpickling anything
(``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``). With
``audio_dir``, the audio file of the same relative name is the reference and
reference metrics are computed; without it only reference-free metrics are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .base import AUDIO_EXTENSIONS, Clip, load_audio

#: Extensions read as mel files.
MEL_EXTENSIONS = (".npy", ".pt", ".pth")


def load_mel_file(path: str | Path, *, transpose: bool = False) -> np.ndarray:
    """Read one mel array from ``.npy`` or ``.pt`` without unpickling arbitrary objects.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (numpy, ``allow_pickle=False``) or ``.pt``/``.pth`` (a tensor saved
        with ``torch.save``; read with ``weights_only=True``; needs torch).
    transpose : bool
        The file holds ``(frames, n_mels)``: swap the last two axes.

    Returns
    -------
    np.ndarray
        float32 (or float64) array ``(n_mels, frames)``; a leading axis of size 1 is dropped.

    Raises
    ------
    InputError
        Missing or unreadable file, object arrays, torch missing for ``.pt``, wrong rank.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mel file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(
                f"{path}: cannot read without unpickling ({exc}); save a plain numeric array "
                "with np.save(path, mel.astype(np.float32))"
            ) from None
        except Exception as exc:  # noqa: BLE001 - corrupt files raise various errors
            raise InputError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    elif suffix in (".pt", ".pth"):
        try:
            import torch
        except ImportError:
            raise InputError(
                f"{path}: reading .pt files needs torch, which is not installed; "
                "convert to .npy (np.save) or pip install torch"
            ) from None
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise InputError(
                f"{path}: cannot load as a tensor with weights_only=True ({type(exc).__name__}: "
                f"{exc}); save the mel tensor itself: torch.save(mel.cpu(), path)"
            ) from None
        if isinstance(obj, dict) and len(obj) == 1:
            obj = next(iter(obj.values()))
        if not isinstance(obj, torch.Tensor):
            raise InputError(f"{path}: holds a {type(obj).__name__}, not a tensor")
        arr = obj.detach().cpu().float().numpy()
    else:
        raise InputError(f"{path}: unsupported mel file type {suffix!r}; use .npy or .pt")
    arr = np.asarray(arr)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{path}: dtype {arr.dtype} is not numeric")
    if np.iscomplexobj(arr):
        raise InputError(f"{path}: complex array; a mel is real (magnitude, power or log)")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InputError(
            f"{path}: mel has shape {arr.shape}; expected (n_mels, frames)"
            + (" or (frames, n_mels) with transpose" if transpose else "")
        )
    if transpose:
        arr = arr.T
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def find_mel_files(root: Path, recursive: bool = True) -> list[Path]:
    """Mel files under ``root`` (sorted), or ``[root]`` if it is a file."""
    if root.is_file():
        return [root]
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in MEL_EXTENSIONS)


def match_audio(audio_dir: Path, rel: Path) -> Path | None:
    """The audio file ``audio_dir/<rel without suffix>.<ext>`` if one exists."""
    stem = audio_dir / rel.with_suffix("")
    for ext in AUDIO_EXTENSIONS:
        for cand in (stem.with_name(stem.name + ext), stem.with_name(stem.name + ext.upper())):
            if cand.is_file():
                return cand
    return None


def align_audio(audio: np.ndarray, n_frames: int, spec: FeatureSpec, tolerance: int = 2) -> np.ndarray:
    """Crop or zero-pad reference audio to the length a mel of ``n_frames`` frames implies.

    Raises
    ------
    InputError
        If the audio's frame count differs by more than ``tolerance`` frames (and 1 %):
        the mel was not made from this audio with this spec.
    """
    have = spec.n_frames(audio.shape[-1])
    if abs(have - n_frames) > max(tolerance, 0.01 * n_frames):
        raise InputError(
            f"mel has {n_frames} frames but the reference audio gives {have} with spec {spec} "
            f"(hop_length={spec.hop_length}, sample_rate={spec.sample_rate}); the mel was made "
            "with another spec or from other audio"
        )
    if have == n_frames:
        return audio
    want = spec.n_samples(n_frames)
    if audio.shape[-1] >= want:
        return audio[:want]
    return np.pad(audio, (0, want - audio.shape[-1]))


class Mels(Dataset):
    """A folder of model-predicted mels (.npy/.pt) made with the run's spec; audio optional."""

    name: ClassVar[str] = "mels"

    @dataclass
    class Params:
        """Parameters of the mels dataset.

        Attributes
        ----------
        path : str
            Folder of mel files (or one file).
        audio_dir : str
            Folder of matching reference audio (same relative name, any audio
            extension); "" = none, only reference-free metrics.
        transpose : bool
            Files hold ``(frames, n_mels)``; swap axes on load.
        recursive : bool
            Descend into sub-folders.
        """

        path: str = "???"
        audio_dir: str = ""
        transpose: bool = False
        recursive: bool = True

    def validate(self) -> None:
        """Require a path."""
        if self.params.path in ("", "???"):
            raise ParameterError("dataset 'mels' needs a folder of mel files: dataset.path=/dir")

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield one clip per mel file (with matched audio when ``audio_dir`` is given)."""
        from ..validation import check_mel

        root = Path(self.params.path).expanduser()
        if not root.exists():
            raise InputError(f"dataset 'mels': {root} does not exist")
        files = find_mel_files(root, self.params.recursive)
        if not files:
            raise InputError(
                f"dataset 'mels': no mel files ({', '.join(MEL_EXTENSIONS)}) under {root}"
            )
        audio_dir = Path(self.params.audio_dir).expanduser() if self.params.audio_dir else None
        if audio_dir is not None and not audio_dir.is_dir():
            raise InputError(f"dataset 'mels': audio_dir {audio_dir} is not a directory")
        base = root.parent if root.is_file() else root
        for f in files:
            rel = f.relative_to(base)
            cid = str(rel.with_suffix(""))
            meta: dict[str, Any] = {"kind": "mel", "path": str(f)}
            try:
                mel = check_mel(load_mel_file(f, transpose=self.params.transpose), spec)
            except InputError as exc:
                msg = str(exc) if str(f) in str(exc) else f"{f}: {exc}"
                yield Clip(id=cid, sample_rate=spec.sample_rate, meta=meta, error=msg)
                continue
            audio = None
            if audio_dir is not None:
                apath = match_audio(audio_dir, rel)
                if apath is None:
                    meta["reference"] = "missing"
                else:
                    try:
                        audio, _, info = load_audio(apath, spec.sample_rate)
                        audio = align_audio(audio, mel.shape[-1], spec)
                    except InputError as exc:
                        yield Clip(id=cid, sample_rate=spec.sample_rate, meta=meta,
                                   error=f"{apath}: {exc}")
                        continue
                    meta["reference"] = str(apath)
            yield Clip(id=cid, audio=audio, mel=mel, sample_rate=spec.sample_rate, meta=meta)
