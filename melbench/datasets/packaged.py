"""Shared parts of the datasets read from installed packages (Debian packages, a PyPI sdist).

The evaluation data of melbench is not shipped with it: it installs from package
registries (``make eval-data``) and each dataset plugin finds the installed files.
This module holds what those plugins share:

* :class:`PackagedParams`, the selection options (a seeded subset, duration limits,
  cropping), applied by :func:`select` (before decoding) and :func:`crop` (after);
* :func:`missing_data`, the error that names the exact install command;
* :func:`read_dep5` / :func:`dep5_licence`, the per-file licence from a Debian
  machine-readable copyright file (DEP-5: the *last* matching ``Files:``
  paragraph wins);
* :func:`package_version`, the installed version of a Debian package (for rows and
  the suite's manifest);
* :func:`crop`, the duration limit applied to a loaded clip.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError
from .base import Clip


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


def check_selection(p: PackagedParams) -> None:
    """Check the shared selection options (raise :class:`ParameterError`)."""
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
    order = sorted(entries, key=lambda e: e.id)
    if p.subset:
        perm = np.random.default_rng(p.seed).permutation(len(order))
        order = [order[i] for i in perm]
    out = []
    for e in order:
        d = e.duration
        if np.isfinite(d):
            if p.min_duration and d < p.min_duration:
                continue
            if p.max_duration and p.on_long == "skip" and d > p.max_duration:
                continue
        out.append(e)
        if p.subset and len(out) >= p.subset:
            break
    return sorted(out, key=lambda e: e.id)


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


def crop(clip: Clip, p: PackagedParams) -> Clip | None:
    """Apply the duration limits to a loaded clip (None = skip it).

    A clip longer than ``max_duration`` keeps its first ``max_duration`` seconds
    (``on_long="crop"``, recorded as ``cropped_from`` in its meta) or is dropped.
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
