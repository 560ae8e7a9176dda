"""``mels``: mel spectrograms predicted by a model (``.npy``/``.npz``, or ``.pt`` with torch).

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
MEL_EXTENSIONS = (".npy", ".npz", ".pt", ".pth")


def path_problem(path: str | Path, what: str = "mel file") -> str:
    """Why ``path`` cannot be read as a regular file ("" if it can).

    Tells apart a missing path, a broken symbolic link, a symbolic-link loop, and a
    FIFO, socket or device (which ``Path.is_file`` silently rejects).
    """
    import errno
    import os
    import stat

    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{what} {path} is a symbolic-link loop (the links point at each other)"
        if path.is_symlink():
            return f"{what} {path} is a broken symbolic link (to {os.readlink(path)})"
        return f"{what} {path} does not exist"
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return ""
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
            "a socket" if stat.S_ISSOCK(st.st_mode) else "a device or special file")
    return f"{what} {path} is {kind}, not a regular file; save the mel to a file (np.save)"


def load_mel_file(
    path: str | Path, *, transpose: bool = False, key: str | None = None, batch: bool = False
) -> np.ndarray:
    """Read one mel array from ``.npy``, ``.npz`` or ``.pt`` without unpickling arbitrary objects.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (numpy, ``allow_pickle=False``), ``.npz`` (the array ``key``, or
        its only array) or ``.pt``/``.pth`` (a tensor saved with ``torch.save``;
        read with ``weights_only=True``; needs torch).
    transpose : bool
        The file holds ``(frames, n_mels)``: swap the last two axes.
    key : str, optional
        Name of the array in an ``.npz`` archive (or in a ``.pt`` dict of tensors).
    batch : bool
        Accept a batch ``(batch, n_mels, frames)`` (returned as is) besides
        ``(n_mels, frames)``.

    Returns
    -------
    np.ndarray
        float32 (or float64) array ``(n_mels, frames)`` (or ``(batch, n_mels, frames)``
        with ``batch``); leading axes of size 1 are dropped.

    Raises
    ------
    InputError
        Missing, special (FIFO, link loop), truncated or unreadable file, object
        arrays, a missing ``key``, torch missing for ``.pt``, wrong rank.
    """
    path = Path(path)
    problem = path_problem(path)
    if problem or path.is_dir():
        raise InputError(problem or f"{path} is a folder, not a mel file")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        arr = _load_numpy(path, key)
    elif suffix in (".pt", ".pth"):
        arr = _load_torch(path, key)
    else:
        raise InputError(f"{path}: unsupported mel file type {suffix!r}; use .npy, .npz or .pt")
    arr = np.asarray(arr)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{path}: dtype {arr.dtype} is not numeric")
    if np.iscomplexobj(arr):
        raise InputError(f"{path}: complex array; a mel is real (magnitude, power or log)")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 and not (batch and arr.ndim == 3):
        expected = "(n_mels, frames)" + (" or (batch, n_mels, frames)" if batch else "")
        raise InputError(
            f"{path}: mel has shape {arr.shape}; expected {expected}"
            + (" (or frames before n_mels with transpose)" if transpose else "")
        )
    if transpose:
        arr = np.swapaxes(arr, -1, -2)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def _load_numpy(path: Path, key: str | None) -> np.ndarray:
    try:
        obj = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(
                f"{path}: cannot read without unpickling ({exc}); save a plain numeric array "
                "with np.save(path, mel.astype(np.float32))"
            ) from None
        raise InputError(_truncated_or_corrupt(path, exc)) from None
    except Exception as exc:  # noqa: BLE001 - corrupt files raise various errors
        raise InputError(_truncated_or_corrupt(path, exc)) from None
    if not isinstance(obj, np.lib.npyio.NpzFile):
        if key:
            raise InputError(f"{path}: --key/key={key!r} applies to .npz archives, not to .npy files")
        return obj
    with obj:
        names = list(obj.files)
        if key is None:
            if len(names) != 1:
                raise InputError(
                    f"{path}: the .npz archive holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                    "name the mel with --key NAME (dataset.key=NAME)"
                )
            key = names[0]
        if key not in names:
            raise InputError(f"{path}: no array {key!r} in the .npz archive; it holds: {', '.join(names)}")
        try:
            return obj[key]
        except ValueError as exc:
            if "pickle" in str(exc):
                raise InputError(f"{path}: array {key!r} cannot be read without unpickling") from None
            raise InputError(_truncated_or_corrupt(path, exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise InputError(_truncated_or_corrupt(path, exc)) from None


def _truncated_or_corrupt(path: Path, exc: BaseException) -> str:
    text = str(exc)
    if "read all data" in text or "not fully written" in text or isinstance(exc, EOFError):
        return (f"{path}: the file is truncated (it holds less data than its header declares: "
                f"{text}); it was not fully written: save it again")
    return f"{path}: not a readable {path.suffix} file ({type(exc).__name__}: {text})"


def _load_torch(path: Path, key: str | None) -> np.ndarray:
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
    if isinstance(obj, dict):
        if key is not None:
            if key not in obj:
                raise InputError(
                    f"{path}: no tensor {key!r} in the file; it holds: {', '.join(map(str, obj))}"
                )
            obj = obj[key]
        elif len(obj) == 1:
            obj = next(iter(obj.values()))
    if not isinstance(obj, torch.Tensor):
        raise InputError(f"{path}: holds a {type(obj).__name__}, not a tensor")
    return obj.detach().cpu().float().numpy()


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
        key : str
            Name of the mel array in ``.npz`` archives (or ``.pt`` dicts); "" = the
            only array.
        """

        path: str = "???"
        audio_dir: str = ""
        transpose: bool = False
        recursive: bool = True
        key: str = ""

    def validate(self) -> None:
        """Require a path."""
        if self.params.path in ("", "???"):
            raise ParameterError("dataset 'mels' needs a folder of mel files: dataset.path=/dir")

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield one clip per mel file (with matched audio when ``audio_dir`` is given)."""
        from ..validation import check_frames, check_mel

        root = Path(self.params.path).expanduser()
        problem = path_problem(root, "path")
        if problem:
            raise InputError(f"dataset 'mels': {problem}")
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
                mel = check_mel(load_mel_file(f, transpose=self.params.transpose,
                                              key=self.params.key or None), spec, values=True)
                check_frames(mel.shape[-1], spec, f"{f}: mel")
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
                        if info.get("note"):
                            meta["note"] = info["note"]
                        audio = align_audio(audio, mel.shape[-1], spec)
                    except InputError as exc:
                        yield Clip(id=cid, sample_rate=spec.sample_rate, meta=meta,
                                   error=f"{apath}: {exc}")
                        continue
                    meta["reference"] = str(apath)
            yield Clip(id=cid, audio=audio, mel=mel, sample_rate=spec.sample_rate, meta=meta)
