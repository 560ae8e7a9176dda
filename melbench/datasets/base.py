"""Clips and audio loading shared by every dataset plugin."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")


@dataclass
class Clip:
    """One item of a dataset.

    Attributes
    ----------
    id : str
        Identifier, unique within the dataset.
    audio : np.ndarray or None
        Mono float32 audio at ``sample_rate`` (None for mel-only items).
    sample_rate : int
        Rate of ``audio`` (the spec's rate after loading).
    mel : np.ndarray or None
        A precomputed mel in the spec's domain (e.g. a model's prediction), used
        instead of computing one from ``audio``.
    meta : dict
        Free-form facts (kind, source rate, path, speaker...), copied into rows.
    error : str or None
        Why the clip could not be loaded; the pipeline records it in the row.
    """

    id: str
    audio: np.ndarray | None = None
    sample_rate: int = 0
    mel: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration(self) -> float:
        """Seconds of audio (or NaN without audio)."""
        if self.audio is None or not self.sample_rate:
            return float("nan")
        return self.audio.shape[-1] / self.sample_rate


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample with soxr (very high quality); identity when the rates agree."""
    if sr_in == sr_out:
        return y
    import soxr

    return soxr.resample(y, sr_in, sr_out, quality="VHQ").astype(np.float32, copy=False)


def wav_truncation(path: str | Path) -> str:
    """A note if a RIFF/WAVE file's ``data`` chunk is shorter than its header declares ("" if not).

    libsndfile reads what is there without complaint, so a cut-off file (an
    interrupted copy or download) would otherwise be scored as if it were whole.
    """
    import struct

    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return ""
            end = ">" if head[:4] == b"RIFX" else "<"
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                cid, n = struct.unpack(end + "4sI", fh.read(8))
                if cid == b"data":
                    have = size - pos - 8
                    if n != 0xFFFFFFFF and n > have:
                        return (f"{path.name} is cut short: its header declares {n} bytes of audio "
                                f"data but the file holds {have} ({100 * have / n:.0f}%); only "
                                "that part is scored: copy or export the file again")
                    return ""
                pos += 8 + n + (n & 1)
    except (OSError, struct.error):
        return ""
    return ""


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int, dict]:
    """Read an audio file, downmix to mono float32, resample to ``sample_rate``.

    Parameters
    ----------
    path : str or Path
        wav/flac/ogg/aiff file (anything libsndfile reads).
    sample_rate : int, optional
        Target rate; None keeps the file's rate.

    Returns
    -------
    audio : np.ndarray
        Mono float32 signal.
    sr : int
        Its sample rate.
    info : dict
        ``source_sample_rate``, ``source_channels``, ``path``; ``note`` when the
        file is a WAV cut short (:func:`wav_truncation`).

    Raises
    ------
    InputError
        If the file is missing or unreadable (the message names the file).
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file not found: {path}")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
        raise InputError(f"cannot read audio file {path}: {exc}") from exc
    info = {"source_sample_rate": int(sr), "source_channels": int(data.shape[1]), "path": str(path)}
    note = wav_truncation(path)
    if note:
        info["note"] = note
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    y = np.ascontiguousarray(y, dtype=np.float32)
    if sample_rate is not None and sample_rate != sr:
        y = resample(y, int(sr), int(sample_rate))
        sr = sample_rate
    return y, int(sr), info


def clip_from_file(path: str | Path, clip_id: str, sample_rate: int, meta: dict | None = None) -> Clip:
    """Load a file into a :class:`Clip`; a failure becomes a clip with ``error`` set."""
    meta = dict(meta or {})
    try:
        y, sr, info = load_audio(path, sample_rate)
    except InputError as exc:
        return Clip(id=clip_id, sample_rate=sample_rate, meta={**meta, "path": str(path)},
                    error=str(exc))
    return Clip(id=clip_id, audio=y, sample_rate=sr, meta={**meta, **info})
