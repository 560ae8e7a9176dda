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


#: What each framing is, for messages.
FRAMING_NOTES = {
    "center": "n_fft//2 padding each side: librosa/torch center=True, Tacotron 2, ESPnet",
    "same": "(n_fft-hop)//2 reflect padding, center=False: HiFi-GAN, BigVGAN, VITS",
    "none": "no padding, center=False",
}


def framings_that_fit(n_samples: int, n_frames: int, spec: FeatureSpec) -> list[str]:
    """Framings (other than the spec's) under which ``n_samples`` samples give ``n_frames`` frames."""
    from ..spec import FRAMINGS

    out = []
    for framing in FRAMINGS:
        if framing == spec.framing:
            continue
        try:
            if spec.replace(framing=framing).n_frames(n_samples) == n_frames:
                out.append(framing)
        except (InputError, ParameterError):
            continue
    return out


def _presets_with_framing(spec: FeatureSpec, framing: str) -> list[str]:
    from ..spec import PRESETS

    keys = ("sample_rate", "n_fft", "hop_length", "n_mels")
    return [n for n, p in PRESETS.items() if p.framing == framing
            and all(getattr(p, k) == getattr(spec, k) for k in keys)]


def align_audio(audio: np.ndarray, n_frames: int, spec: FeatureSpec, tolerance: int = 2) -> np.ndarray:
    """Crop or zero-pad reference audio to the length a mel of ``n_frames`` frames implies.

    The mel must have exactly the frame count the spec's framing gives for the
    audio's length (a mel computed from that audio); a small difference that
    another framing explains exactly is the classic HiFi-GAN-mel-declared-as-centred
    mistake (one frame too many and half a hop early), so it is an error naming
    that framing. A small difference no framing explains is cropped or padded.

    Raises
    ------
    InputError
        If another framing gives exactly ``n_frames`` frames for the audio (the
        message names it and the presets that use it), or the frame counts differ
        by more than ``tolerance`` frames (and 1 %): the mel was not made from this
        audio with this spec.
    """
    n = audio.shape[-1]
    have = spec.n_frames(n)
    if have != n_frames:
        fits = framings_that_fit(n, n_frames, spec)
        if fits:
            f = fits[0]
            presets = _presets_with_framing(spec, f)
            raise InputError(
                f"mel has {n_frames} frames but the reference audio ({n} samples) gives {have} "
                f"with spec {spec}'s framing {spec.framing!r} ({FRAMING_NOTES[spec.framing]}); "
                f"framing {f!r} ({FRAMING_NOTES[f]}) gives exactly {n_frames}: the mel was made "
                f"with framing={f!r}; declare it (spec.framing={f}"
                + (f", or spec={presets[0]}" if presets else "")
                + "), or the audio would be scored misaligned"
            )
    if abs(have - n_frames) > max(tolerance, 0.01 * n_frames):
        raise InputError(
            f"mel has {n_frames} frames but the reference audio gives {have} with spec {spec} "
            f"(hop_length={spec.hop_length}, sample_rate={spec.sample_rate}, framing "
            f"{spec.framing!r}); the mel was made with another spec or from other audio"
        )
    if have == n_frames:
        return audio
    want = spec.n_samples(n_frames)
    if audio.shape[-1] >= want:
        return audio[:want]
    return np.pad(audio, (0, want - audio.shape[-1]))


def _log_slope(given: np.ndarray, ref: np.ndarray, floor: float) -> tuple[float, float]:
    """Slope and correlation of log(given) on log(ref) over the cells well above the floor."""
    g = np.asarray(given, np.float64).ravel()
    r = np.asarray(ref, np.float64).ravel()
    keep = (g > 100 * floor) & (r > 100 * floor) & np.isfinite(g) & np.isfinite(r)
    if keep.sum() < 50:
        return float("nan"), float("nan")
    a, b = np.log(g[keep]), np.log(r[keep])
    vb = float(np.var(b))
    if vb <= 0 or np.var(a) <= 0:
        return float("nan"), float("nan")
    cov = float(np.mean((a - a.mean()) * (b - b.mean())))
    return cov / vb, cov / np.sqrt(vb * float(np.var(a)))


def convention_mismatch(mel: np.ndarray, audio: np.ndarray, spec: FeatureSpec) -> str:
    """Compare a mel with the mel of its (aligned) reference audio; why the declaration is wrong.

    Undone as declared, a mel made from this audio with this spec matches
    ``spec.mel(audio)`` up to noise: the log-log slope is 1. A magnitude mel declared
    power has slope ~0.5, a log10 mel declared ln ~0.43, ln declared log10 ~2.3. When
    the two are strongly correlated (the mel is this audio's), the slope is far from 1
    and another declaration gives a slope near 1, that declaration is named. A
    model's prediction that correlates less is not judged.

    Returns
    -------
    str
        The reason, or "" if the declaration fits (or nothing can be told).
    """
    floor = max(float(spec.floor), 1e-12)
    given = spec.decompress(np.asarray(mel, np.float64))
    refs = {}

    def ref_mel(power: int) -> np.ndarray:
        if power not in refs:
            refs[power] = spec.replace(power=power).mel(np.asarray(audio, np.float64), compress=False)
        return refs[power]

    slope, corr = _log_slope(given, ref_mel(spec.power), floor)
    if not (corr >= 0.9) or abs(slope - 1) <= 0.3:
        return ""
    fits = []
    for comp in ("ln", "log10", "db", "none"):
        for power in (1, 2):
            if (comp, power) == (spec.compression, spec.power):
                continue
            cand = spec.replace(compression=comp, power=power)
            if comp == "none" and np.any(np.asarray(mel) < 0):
                continue
            s_c, r_c = _log_slope(cand.decompress(np.asarray(mel, np.float64)), ref_mel(power), floor)
            if r_c >= 0.9 and abs(s_c - 1) <= 0.15:
                fits.append((abs(s_c - 1), comp, power))
    if not fits:
        return ""
    _, comp, power = min(fits)
    change = [f"compression='{comp}'"] if comp != spec.compression else []
    if power != spec.power:
        change.append(f"power={power} ({'power' if power == 2 else 'magnitude'})")
    return (
        f"compared with the mel of its reference audio, this mel undone as spec {spec} declares "
        f"({spec.compression}, {spec.domain}) grows as the reference's to the power {slope:.2f} "
        f"instead of 1 (correlation {corr:.2f}): it was made with {', '.join(change)}; declare "
        "that (spec.compression / spec.power), or the inverted audio is distorted"
    )


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
                        n_audio = audio.shape[-1]
                        audio = align_audio(audio, mel.shape[-1], spec)
                        if audio.shape[-1] != n_audio:
                            meta["note"] = "; ".join(filter(None, [meta.get("note"), (
                                f"reference {apath.name} cropped/padded from {n_audio} to "
                                f"{audio.shape[-1]} samples to match the mel's "
                                f"{mel.shape[-1]} frames")]))
                    except InputError as exc:
                        yield Clip(id=cid, sample_rate=spec.sample_rate, meta=meta,
                                   error=f"{apath}: {exc}")
                        continue
                    why = convention_mismatch(mel, audio, spec)
                    if why:
                        yield Clip(id=cid, sample_rate=spec.sample_rate, meta=meta,
                                   error=f"{f}: {why}")
                        continue
                    meta["reference"] = str(apath)
            yield Clip(id=cid, audio=audio, mel=mel, sample_rate=spec.sample_rate, meta=meta)
