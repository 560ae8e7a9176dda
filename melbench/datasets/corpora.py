"""Public speech corpora read from a local copy: ``ljspeech``, ``vctk``, ``librispeech``, ``arctic``.

melbench never downloads a corpus: point ``dataset.root`` at the copy you have.
Every corpus dataset shares the selection options of :class:`CorpusParams`
(subset size with a seed, speaker filter, minimum and maximum duration with
crop or skip), implemented once in :class:`Corpus`. A subclass only lists its
items (:meth:`Corpus.index`) and raises :class:`~melbench.errors.InputError`
naming the expected layout when the tree does not have it.

Layouts (``ROOT`` is ``dataset.root``):

* ``ljspeech``: ``ROOT/metadata.csv`` (``id|transcription|normalized``, no header)
  and ``ROOT/wavs/<id>.wav``.
* ``vctk``: VCTK 0.92 ``ROOT/wav48_silence_trimmed/<spk>/<spk>_<utt>_<mic>.flac``
  or the older ``ROOT/wav48/<spk>/<spk>_<utt>.wav``; transcripts from
  ``ROOT/txt/<spk>/<spk>_<utt>.txt`` when present.
* ``librispeech``: ``ROOT/<split>/<speaker>/<chapter>/<spk>-<ch>-<utt>.flac`` with
  ``<spk>-<ch>.trans.txt`` beside them (``ROOT`` may also be the split folder).
* ``arctic``: ``ROOT/cmu_us_<spk>_arctic/wav/*.wav`` (or ``ROOT`` being one such
  folder); transcripts from ``etc/txt.done.data`` when present.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InputError, ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .base import Clip, clip_from_file
from .packaged import check_selection, crop, seeded_draw


@dataclass
class Item:
    """One utterance found in a corpus tree (before loading).

    Attributes
    ----------
    id : str
        Clip id (unique in the corpus).
    path : Path
        Audio file.
    speaker : str
        Speaker id ("" if the corpus has one speaker and no id).
    text : str
        Transcript ("" when unknown).
    """

    id: str
    path: Path
    speaker: str = ""
    text: str = ""


@dataclass
class CorpusParams:
    """Options shared by every corpus dataset.

    Attributes
    ----------
    root : str
        Local copy of the corpus (see the dataset's layout).
    subset : int
        Number of utterances to draw at random (seeded); 0 = all.
    seed : int
        Seed of the subset draw.
    speakers : list of str
        Keep only these speakers (empty = all).
    max_duration : float
        Longest clip in seconds (0 = no limit); longer ones are cropped or skipped.
    on_long : str
        "crop" (keep the first ``max_duration`` seconds) or "skip".
    min_duration : float
        Shorter clips are skipped (seconds; 0 = keep all).
    """

    root: str = "???"
    subset: int = 0
    seed: int = 0
    speakers: list[str] = field(default_factory=list)
    max_duration: float = 0.0
    on_long: str = "crop"
    min_duration: float = 0.0


def file_duration(path: Path) -> float:
    """Duration of an audio file in seconds from its header (NaN if unreadable)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - unreadable files become clips with an error later
        return float("nan")
    return info.frames / info.samplerate if info.samplerate else float("nan")


def select_items(
    items: list[Item],
    *,
    subset: int = 0,
    seed: int = 0,
    speakers: list[str] | tuple[str, ...] = (),
    max_duration: float = 0.0,
    on_long: str = "crop",
    min_duration: float = 0.0,
    what: str = "dataset",
) -> list[tuple[Item, float]]:
    """Apply the speaker filter, duration limits and the seeded subset draw.

    Durations are read from file headers only for the candidates examined, so a
    small subset of a large corpus stays cheap: candidates are visited in a
    seeded random order until ``subset`` items pass the duration filters.

    Parameters
    ----------
    items : list of Item
        Everything the corpus holds.
    subset, seed, speakers, max_duration, on_long, min_duration
        See :class:`CorpusParams`.
    what : str
        Dataset name for messages.

    Returns
    -------
    list of (Item, float)
        Selected items with their durations (NaN if the header is unreadable:
        such items are kept so that the run records the error), sorted by id.

    Raises
    ------
    InputError
        If a requested speaker does not exist or nothing is left after filtering.
    """
    if speakers:
        wanted = {str(s) for s in speakers}
        known = {it.speaker for it in items}
        missing = sorted(wanted - known)
        if missing:
            shown = ", ".join(sorted(known)[:20]) + (" ..." if len(known) > 20 else "")
            raise InputError(f"{what}: unknown speaker(s) {missing}; speakers found: {shown}")
        items = [it for it in items if it.speaker in wanted]
    need_duration = bool(min_duration > 0 or (max_duration > 0 and on_long == "skip"))
    out, n_short, n_long = seeded_draw(
        items, key=lambda it: it.id,
        duration=(lambda it: file_duration(it.path)) if need_duration else (lambda it: math.nan),
        subset=subset, seed=seed, min_duration=min_duration, max_duration=max_duration,
        on_long=on_long)
    if not out:
        raise InputError(
            f"{what}: no utterance left after filtering ({len(items)} found; {n_short} shorter "
            f"than min_duration={min_duration:g} s, {n_long} longer than "
            f"max_duration={max_duration:g} s with on_long=skip)"
        )
    return out


class Corpus(Dataset):
    """Base of the corpus datasets: selection, loading and cropping (subclasses list items)."""

    #: Human-readable layout, quoted in error messages.
    layout: ClassVar[str] = ""
    #: Corpus kind copied into rows.
    clip_kind: ClassVar[str] = "speech"

    Params = CorpusParams

    def validate(self) -> None:
        """Check the options (the tree itself is checked when clips are listed)."""
        if self.params.root in ("", "???"):
            raise ParameterError(
                f"dataset {self.name!r} needs the corpus location: dataset.root=/path/to/copy "
                f"(expected layout: {self.layout})"
            )
        self.check_selection()

    def check_selection(self) -> None:
        """Check the shared selection options (:func:`melbench.datasets.packaged.check_selection`)."""
        check_selection(self.params)

    # ---------------------------------------------------------------- subclass API
    def index(self, root: Path) -> list[Item]:
        """Every utterance under ``root``; raise :class:`InputError` on a wrong layout."""
        raise NotImplementedError

    # ---------------------------------------------------------------- shared
    def root(self) -> Path:
        """The corpus root, checked to exist."""
        root = Path(self.params.root).expanduser()
        if not root.is_dir():
            raise InputError(
                f"dataset {self.name!r}: root {root} is not a directory; expected layout: "
                f"{self.layout}"
            )
        return root

    def bad_layout(self, root: Path, what: str) -> InputError:
        """An :class:`InputError` naming what is wrong and the expected layout."""
        return InputError(
            f"dataset {self.name!r}: {what} under {root}; expected layout: {self.layout}"
        )

    def items(self) -> list[tuple[Item, float]]:
        """The selected items with their header durations (see :func:`select_items`)."""
        p = self.params
        items = self.index(self.root())
        return select_items(
            items, subset=p.subset, seed=p.seed, speakers=list(p.speakers),
            max_duration=p.max_duration, on_long=p.on_long, min_duration=p.min_duration,
            what=f"dataset {self.name!r}",
        )

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield the selected utterances, mono, resampled to the spec's rate, cropped if asked."""
        for it, _dur in self.items():
            meta: dict[str, Any] = {"kind": self.clip_kind, "corpus": self.name}
            if it.speaker:
                meta["speaker"] = it.speaker
            if it.text:
                meta["text"] = it.text
            # the limits again on the decoded audio (a header may have been unreadable)
            clip = crop(clip_from_file(it.path, it.id, spec.sample_rate, meta), self.params)
            if clip is not None:
                yield clip


def _audio_files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file())


# --------------------------------------------------------------------------- LJSpeech


class LJSpeech(Corpus):
    """LJSpeech 1.1 (single speaker, 22.05 kHz): ``metadata.csv`` + ``wavs/``."""

    name: ClassVar[str] = "ljspeech"
    layout: ClassVar[str] = (
        "ROOT/metadata.csv (lines 'LJ001-0001|transcription|normalized transcription') and "
        "ROOT/wavs/LJ001-0001.wav (the LJSpeech-1.1 folder)"
    )

    def index(self, root: Path) -> list[Item]:
        """Rows of ``metadata.csv`` whose wav exists (a listed but missing wav is kept: it fails)."""
        if not (root / "metadata.csv").is_file() and (root / "LJSpeech-1.1").is_dir():
            root = root / "LJSpeech-1.1"
        meta = root / "metadata.csv"
        if not meta.is_file():
            raise self.bad_layout(root, "no metadata.csv")
        if not (root / "wavs").is_dir():
            raise self.bad_layout(root, "no wavs/ folder")
        items = []
        with open(meta, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\n\r")
                if not line.strip():
                    continue
                parts = line.split("|")
                if len(parts) < 2 or not parts[0].strip():
                    raise self.bad_layout(
                        root, f"metadata.csv line {n} is not 'id|text[|normalized]': {line[:60]!r}"
                    )
                uid = parts[0].strip()
                text = parts[2] if len(parts) > 2 and parts[2] else parts[1]
                items.append(Item(uid, root / "wavs" / f"{uid}.wav", "LJ", text.strip()))
        if not items:
            raise self.bad_layout(root, "metadata.csv is empty")
        return items


# --------------------------------------------------------------------------- VCTK


class VCTK(Corpus):
    """CSTR VCTK (110 speakers, 48 kHz): 0.92 flac layout with mic choice, or the older wav48."""

    name: ClassVar[str] = "vctk"
    layout: ClassVar[str] = (
        "ROOT/wav48_silence_trimmed/p225/p225_001_mic1.flac (VCTK 0.92) or "
        "ROOT/wav48/p225/p225_001.wav (older releases); optional ROOT/txt/p225/p225_001.txt"
    )

    @dataclass
    class Params(CorpusParams):
        """Parameters of VCTK (plus the shared corpus options).

        Attributes
        ----------
        mic : str
            "mic1" or "mic2" (VCTK 0.92 only; the older wav48 layout has one take).
        """

        mic: str = "mic1"

    def validate(self) -> None:
        """Check the mic and the shared options."""
        super().validate()
        if self.params.mic not in ("mic1", "mic2"):
            raise ParameterError(f"mic={self.params.mic!r}; choose 'mic1' or 'mic2'")

    def index(self, root: Path) -> list[Item]:
        """Utterances of the chosen mic (0.92) or every wav (older layout)."""
        new, old = root / "wav48_silence_trimmed", root / "wav48"
        if not new.is_dir() and not old.is_dir():
            for sub in ("VCTK-Corpus-0.92", "VCTK-Corpus"):
                if (root / sub).is_dir():
                    return self.index(root / sub)
            raise self.bad_layout(root, "neither wav48_silence_trimmed/ nor wav48/")
        items = []
        if new.is_dir():
            pat = re.compile(rf"^(?P<utt>(?P<spk>[^_/]+)_\d+\w*?)_{self.params.mic}$")
            for f in _audio_files(new, "*/*.flac"):
                m = pat.match(f.stem)
                if m and m["spk"] == f.parent.name:
                    items.append(Item(m["utt"], f, m["spk"], self._text(root, m["spk"], m["utt"])))
        else:
            for f in _audio_files(old, "*/*.wav"):
                spk = f.parent.name
                if f.stem.startswith(spk + "_"):
                    items.append(Item(f.stem, f, spk, self._text(root, spk, f.stem)))
        if not items:
            what = (f"no <spk>/<spk>_<utt>_{self.params.mic}.flac files in wav48_silence_trimmed/"
                    if new.is_dir() else "no <spk>/<spk>_<utt>.wav files in wav48/")
            raise self.bad_layout(root, what)
        return items

    @staticmethod
    def _text(root: Path, spk: str, utt: str) -> str:
        t = root / "txt" / spk / f"{utt}.txt"
        try:
            return t.read_text(encoding="utf-8").strip() if t.is_file() else ""
        except (OSError, UnicodeDecodeError):
            return ""


# --------------------------------------------------------------------------- LibriSpeech


class LibriSpeech(Corpus):
    """LibriSpeech (16 kHz audiobooks): ``<split>/<speaker>/<chapter>/*.flac`` + transcripts."""

    name: ClassVar[str] = "librispeech"
    layout: ClassVar[str] = (
        "ROOT/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac with "
        "<speaker>-<chapter>.trans.txt in each chapter folder (ROOT = the LibriSpeech folder, "
        "e.g. ROOT/dev-clean/84/121123/84-121123-0000.flac; or ROOT = the split folder)"
    )

    @dataclass
    class Params(CorpusParams):
        """Parameters of LibriSpeech (plus the shared corpus options).

        Attributes
        ----------
        split : str
            Split folder, e.g. "dev-clean", "test-other", "train-clean-100".
        """

        split: str = "dev-clean"

    def index(self, root: Path) -> list[Item]:
        """Utterances of the split, with transcripts from each chapter's ``.trans.txt``."""
        split = self.params.split
        base = root / split
        if not base.is_dir():
            if (root / "LibriSpeech" / split).is_dir():
                base = root / "LibriSpeech" / split
            elif root.name == split or any(root.glob("*/*/*.trans.txt")):
                base = root
            else:
                found = sorted(p.name for p in root.iterdir() if p.is_dir())
                raise self.bad_layout(
                    root, f"no split folder {split!r} (dataset.split; folders found: {found})"
                )
        items = []
        for chapter in sorted(p for p in base.glob("*/*") if p.is_dir()):
            spk, ch = chapter.parent.name, chapter.name
            texts: dict[str, str] = {}
            trans = chapter / f"{spk}-{ch}.trans.txt"
            if trans.is_file():
                for line in trans.read_text(encoding="utf-8").splitlines():
                    uid, _, text = line.strip().partition(" ")
                    if uid:
                        texts[uid] = text.strip()
            for f in _audio_files(chapter, "*.flac"):
                items.append(Item(f.stem, f, spk, texts.get(f.stem, "")))
        if not items:
            raise self.bad_layout(base, "no <speaker>/<chapter>/*.flac files")
        return items


# --------------------------------------------------------------------------- CMU ARCTIC


class Arctic(Corpus):
    """CMU ARCTIC (16 kHz, ~1130 prompts per speaker): ``cmu_us_<spk>_arctic/wav/*.wav``."""

    name: ClassVar[str] = "arctic"
    layout: ClassVar[str] = (
        "ROOT/cmu_us_<spk>_arctic/wav/arctic_a0001.wav (e.g. cmu_us_bdl_arctic), optional "
        "ROOT/cmu_us_<spk>_arctic/etc/txt.done.data; ROOT may also be one speaker's folder"
    )

    _DIR = re.compile(r"^cmu_us_(?P<spk>[a-z0-9]+)_arctic$")
    _TXT = re.compile(r'^\(\s*(?P<id>\S+)\s+"(?P<text>.*)"\s*\)\s*$')

    def index(self, root: Path) -> list[Item]:
        """Every speaker folder's wavs; ids are ``<spk>_<utt>``."""
        dirs = [root] if self._DIR.match(root.name) else sorted(
            p for p in root.iterdir() if p.is_dir() and self._DIR.match(p.name)
        )
        if not dirs:
            raise self.bad_layout(root, "no cmu_us_<spk>_arctic folder")
        items = []
        for d in dirs:
            m = self._DIR.match(d.name)
            assert m is not None
            spk = m["spk"]
            texts: dict[str, str] = {}
            done = d / "etc" / "txt.done.data"
            if done.is_file():
                for line in done.read_text(encoding="utf-8", errors="replace").splitlines():
                    t = self._TXT.match(line.strip())
                    if t:
                        texts[t["id"]] = t["text"]
            for f in _audio_files(d / "wav", "*.wav"):
                items.append(Item(f"{spk}_{f.stem}", f, spk, texts.get(f.stem, "")))
        if not items:
            raise self.bad_layout(root, "no wav/*.wav files in the cmu_us_<spk>_arctic folders")
        return items
