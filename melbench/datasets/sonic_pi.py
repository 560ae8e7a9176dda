"""``sonic_pi``: the Sonic Pi samples (Debian ``sonic-pi-samples``): drums, instruments, loops.

165 FLAC files at 44.1 kHz (91 stereo, 74 mono; 16-bit, two 24-bit), 5.4 minutes
in all (package 3.2.2~repack-8, Debian 12), in ``/usr/share/sonic-pi/samples``
(``dataset.root`` overrides it). Stereo files are downmixed to mono.

Licences come from the package's DEP-5 copyright file
(``/usr/share/doc/sonic-pi-samples/copyright``), per file, by the DEP-5 rule
(the last matching ``Files:`` paragraph wins): 130 samples have their own
paragraph (CC0, with the freesound.org page as ``Source``, recorded in the row's
``origin``); the other 35 (``glitch_*``, ``mehackit_*``, some ``loop_*`` and ``perc_*``)
fall under ``Files: *``, MIT (Samuel Aaron). When the copyright file is absent
(a copy given with ``root``) the licence column says "unknown (copyright file not
found)" rather than guessing.

Kinds: ``other`` for sound effects (``misc_*``: crow, burp, cine boom;
``vinyl_*``; ``mehackit_*``: phones and robots), ``music`` for the rest (drums,
basses, guitars, tabla, electronic percussion, loops, ambient pads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InputError, ParameterError
from .corpora import file_duration
from .packaged import (
    Entry,
    PackagedDataset,
    PackagedParams,
    dep5_licence,
    missing_data,
    package_version,
    read_dep5,
)

PACKAGE = "sonic-pi-samples"
DEFAULT_ROOT = Path("/usr/share/sonic-pi/samples")
#: Name prefixes of the samples that are sound effects, not music.
OTHER_PREFIXES = ("misc_", "vinyl_", "mehackit_")
#: Kinds a user may select.
KINDS = ("all", "music", "other")


def sample_kind(stem: str) -> str:
    """``other`` for sound effects, ``music`` for instruments, drums and loops."""
    return "other" if stem.startswith(OTHER_PREFIXES) else "music"


class SonicPi(PackagedDataset):
    """Sonic Pi's samples: 44.1 kHz drums, instruments, loops and ambience (CC0 / MIT)."""

    name: ClassVar[str] = "sonic_pi"

    @dataclass
    class Params(PackagedParams):
        """Parameters of the Sonic Pi samples.

        Attributes
        ----------
        kind : str
            "all", "music" or "other".
        copyright_file : str
            The package's DEP-5 copyright file.
        """

        kind: str = "all"
        copyright_file: str = f"/usr/share/doc/{PACKAGE}/copyright"

    def validate(self) -> None:
        """Check the kind and the selection options."""
        super().validate()
        if self.params.kind not in KINDS:
            raise ParameterError(f"kind={self.params.kind!r}; choose one of {list(KINDS)}")

    def entries(self) -> list[Entry]:
        """Every sample (ids ``sonic_pi/<name>``) with its licence and kind."""
        root = Path(self.params.root).expanduser() if self.params.root else DEFAULT_ROOT
        files = sorted(root.glob("*.flac")) if root.is_dir() else []
        if not files:
            raise missing_data(
                f"dataset 'sonic_pi': Debian package {PACKAGE}", root, f"apt-get install -y {PACKAGE}"
            )
        cfile = Path(self.params.copyright_file)
        paragraphs = read_dep5(cfile) if cfile.is_file() else None
        version = package_version(PACKAGE)
        out = []
        for f in files:
            kind = sample_kind(f.stem)
            if self.params.kind != "all" and kind != self.params.kind:
                continue
            meta: dict[str, Any] = {"kind": kind, "source": PACKAGE,
                                    "package": f"{PACKAGE} {version}".strip()}
            para = dep5_licence(paragraphs, f"etc/samples/{f.name}") if paragraphs else None
            if para is None:
                meta["licence"] = "unknown (copyright file not found)"
            else:
                meta["licence"] = f"{para.licence} (c) {para.copyright}"
                meta["licence_file"] = str(cfile)
                if para.source:
                    meta["origin"] = para.source
            out.append(Entry(f"sonic_pi/{f.stem}", f, file_duration(f), meta))
        if not out:
            raise InputError(f"dataset 'sonic_pi': no sample of kind {self.params.kind!r} in {root}")
        return out
