"""``ltfat_signals``: the classic test signals shipped in ``ltfatpy``'s source distribution.

========== ======= ======== ===== =====================================================
file       rate    length   kind  content
========== ======= ======== ===== =====================================================
gspi.wav   44.1 kHz 5.94 s  music glockenspiel (262144 samples; from the EBU SQAM CD),
                                  the phase-retrieval papers' test signal
linus.wav  8 kHz   5.18 s   speech Linus Torvalds: "Hello, this is Linus Torvalds..."
greasy.wav 16 kHz  0.37 s   speech the word "greasy" (TIMIT sentence, woman)
========== ======= ======== ===== =====================================================

Licence: GPL-3 (``LICENSE.rst`` of the ``ltfatpy`` 1.1.2 sdist; a port of LTFAT,
(c) Peter L. Soendergaard and the ltfatpy authors). GPL audio is not committed
to melbench: ``make eval-data`` (``python -m melbench.datasets.ltfat_signals install``)
downloads the sdist with pip and copies the three wavs and the licence to the user
data folder ``$XDG_DATA_HOME/melbench/ltfatpy`` (default ``~/.local/share``), with
a ``SOURCE.txt`` naming the sdist.

The files are looked for, in order: ``dataset.root`` (a folder holding the
wavs: the sdist's ``ltfatpy/signals``, or any copy); that user data folder; an
installed ``ltfatpy`` package's ``signals`` folder (found without importing it).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..errors import InputError, ParameterError
from .corpora import file_duration
from .packaged import Entry, PackagedDataset, PackagedParams, missing_data, user_data_dir

#: ltfatpy release the data folder is filled from.
LTFATPY_VERSION = "1.1.2"
#: The signals, their kinds and what they are.
SIGNALS = {
    "gspi": ("music", "glockenspiel, EBU SQAM"),
    "linus": ("speech", "Linus Torvalds pronouncing 'Linux'"),
    "greasy": ("speech", "the word 'greasy', TIMIT"),
}
LICENCE = "GPL-3.0 (ltfatpy LICENSE.rst; (c) Peter L. Soendergaard, ltfatpy authors)"
INSTALL = "make eval-data  (or: python -m melbench.datasets.ltfat_signals install)"


def data_dir() -> Path:
    """Where ``make eval-data`` puts the signals."""
    return user_data_dir() / "ltfatpy"


def installed_package_dir() -> Path | None:
    """``ltfatpy/signals`` of an installed ltfatpy (not imported), or None."""
    try:
        spec = importlib.util.find_spec("ltfatpy")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "signals"


def install(dest: Path | None = None, version: str = LTFATPY_VERSION) -> Path:
    """Download the ltfatpy sdist with pip and copy its signals and licence to ``dest``.

    Parameters
    ----------
    dest : Path, optional
        Target folder (default :func:`data_dir`).
    version : str
        ltfatpy version.

    Returns
    -------
    Path
        ``dest``, holding ``gspi.wav``, ``linus.wav``, ``greasy.wav``, ``LICENSE.rst``, ``SOURCE.txt``.
    """
    dest = Path(dest) if dest is not None else data_dir()
    with tempfile.TemporaryDirectory() as tmp:
        # --no-build-isolation: pip still prepares metadata of an sdist; with isolation it
        # would build ltfatpy's build requirements from source.
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
               "--no-build-isolation", f"ltfatpy=={version}", "-d", tmp]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sdists = sorted(Path(tmp).glob("ltfatpy-*.tar.gz"))
        if not sdists:
            raise InputError(f"pip could not download the ltfatpy sdist ({' '.join(cmd)}):\n"
                             f"{res.stderr[-2000:]}")
        want = {f"ltfatpy-{version}/ltfatpy/signals/{n}.wav" for n in SIGNALS}
        want.add(f"ltfatpy-{version}/LICENSE.rst")
        stage = Path(tmp) / "stage"
        stage.mkdir()
        with tarfile.open(sdists[0]) as tar:
            for m in tar.getmembers():
                if m.name in want and m.isfile():
                    src = tar.extractfile(m)
                    assert src is not None
                    (stage / Path(m.name).name).write_bytes(src.read())
        got = {p.name for p in stage.iterdir()}
        lost = sorted({Path(w).name for w in want} - got)
        if lost:
            raise InputError(f"the ltfatpy {version} sdist lacks {lost}")
        (stage / "SOURCE.txt").write_text(
            f"ltfatpy {version} sdist from PyPI ({sdists[0].name}); files ltfatpy/signals/*.wav "
            "and LICENSE.rst (GPL-3)\n", encoding="utf-8")
        dest.mkdir(parents=True, exist_ok=True)
        for p in stage.iterdir():
            shutil.copyfile(p, dest / p.name)
    return dest


class LtfatSignals(PackagedDataset):
    """gspi (glockenspiel), linus and greasy from ltfatpy's sdist (GPL-3; not shipped)."""

    name: ClassVar[str] = "ltfat_signals"

    @dataclass
    class Params(PackagedParams):
        """Parameters of the ltfatpy signals.

        Attributes
        ----------
        names : list of str
            Signals to load (gspi, linus, greasy).
        """

        names: list[str] = field(default_factory=lambda: list(SIGNALS))

    def validate(self) -> None:
        """Check the names and the selection options."""
        super().validate()
        bad = sorted(set(self.params.names) - set(SIGNALS))
        if bad or not self.params.names:
            raise ParameterError(f"names={list(self.params.names)}: choose from {list(SIGNALS)}")

    def folder(self) -> Path:
        """The folder holding the signals (see the module docstring for the search order)."""
        need = [f"{n}.wav" for n in self.params.names]
        if self.params.root:
            cands = [Path(self.params.root).expanduser()]
        else:
            cands = [data_dir()] + [p for p in [installed_package_dir()] if p is not None]
        for c in cands:
            if all((c / n).is_file() for n in need):
                return c
        raise missing_data(
            f"dataset 'ltfat_signals': {', '.join(need)} (ltfatpy {LTFATPY_VERSION} sdist)",
            ", ".join(str(c) for c in cands), INSTALL,
        )

    def entries(self) -> list[Entry]:
        """The selected signals (ids ``ltfat/<name>``)."""
        d = self.folder()
        out = []
        for n in self.params.names:
            kind, what = SIGNALS[n]
            f = d / f"{n}.wav"
            meta = {"kind": kind, "source": "ltfatpy", "licence": LICENCE, "content": what,
                    "package": f"ltfatpy {LTFATPY_VERSION} sdist"}
            out.append(Entry(f"ltfat/{n}", f, file_duration(f), meta))
        return out


def main(argv: list[str] | None = None) -> int:
    """``python -m melbench.datasets.ltfat_signals install [DEST]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "install" or len(argv) > 2:
        print("usage: python -m melbench.datasets.ltfat_signals install [DEST]", file=sys.stderr)
        return 2
    dest = install(Path(argv[1]) if len(argv) == 2 else None)
    print(f"ltfatpy signals installed in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
