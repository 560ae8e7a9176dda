"""Locate files shipped with melbench: configs and bundled data.

In a wheel they live inside the package (``melbench/_conf``, ``melbench/_data``);
in a source checkout or editable install, at the top of the repository
(``conf/``, ``datasets/``). These helpers find whichever exists.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _first(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(
        "melbench's shipped files are missing; looked in: " + ", ".join(map(str, candidates))
    )


def config_dir() -> Path:
    """Directory of melbench's Hydra configs."""
    return _first(_PKG / "_conf", _PKG.parent / "conf")


def bundled_dir() -> Path:
    """Directory of the bundled audio set (with ``manifest.csv``)."""
    return _first(_PKG / "_data" / "bundled", _PKG.parent / "datasets" / "bundled")
