"""``asterisk``: the Asterisk PBX voice prompts (Debian ``asterisk-core-sounds-<lang>-g722``).

Five languages, four professional speakers, about 25 minutes of speech each
(package version 1.6.1-1, Debian 12):

======== ========================= ============================= ==============
language folder                    speaker                       licence
======== ========================= ============================= ==============
en       ``en_US_f_Allison``        Allison Smith (f), 568 files  CC-BY-SA-3.0
es       ``es_MX_f_Allison``        Allison Smith (f), 527 files  CC-BY-SA-3.0
fr       ``fr_CA_f_June``           June Wallack (f), 561 files   CC-BY-SA-3.0
it       ``it_IT_m_Carlo``          Carlo Flora (m), 599 files    CC-BY-3.0
ru       ``ru_RU_f_IvrvoiceRU``     Maxim Topal / ivrvoice.ru (f) CC-BY-3.0
======== ========================= ============================= ==============

Layout: ``ROOT/<ll>_<CC>_<f|m>_<Speaker>/**/<name>.g722`` with ``ROOT`` =
``/usr/share/asterisk/sounds`` (``dataset.root`` overrides it). The ``silence/``
folders (digital silence) are left out; the tone prompts (``beep``, ``beeperr``,
``ascending-2tone``, ``descending-2tone``) get kind ``other``, the rest ``speech``.
The licence of each clip is read from the package's DEP-5 copyright file
(``/usr/share/doc/asterisk-core-sounds-<ll>-g722/copyright``: ``Files: *`` for
Allison Smith, ``fr-*``, ``it-*``, ``ru-*`` for the others); when that file is
absent (a copy given with ``root``) the table above, verified on 1.6.1-1, is used
and the row says so.

Decoding. The files are raw G.722 at 64 kbit/s (16 kHz, one byte per two
samples, no header). melbench decodes them with the PyPI package ``G722``
(libg722, a bit-exact ITU-T G.722 implementation, public domain; a C extension,
about 1 ms per prompt, no system dependency and no root needed). ``ffmpeg``
(Debian) is the alternative (``decoder=ffmpeg``): on the installed prompts both
give bit-identical samples (``tests/test_eval_datasets.py`` checks it when ffmpeg
is present), but ffmpeg costs a process per file. G.722 is lossy and band-limited
to 7 kHz: the decoded audio is the reference of every score, so inversion
quality is still measured against what the mel was computed from.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, ParameterError
from ..spec import FeatureSpec
from .base import Clip, resample
from .packaged import (
    Entry,
    PackagedDataset,
    PackagedParams,
    dep5_licence,
    missing_data,
    package_version,
    read_dep5,
)

#: Where the Debian packages install the prompts.
DEFAULT_ROOT = Path("/usr/share/asterisk/sounds")
#: Sample rate of G.722 audio.
G722_RATE = 16000
#: Languages packaged in Debian as asterisk-core-sounds-<ll>-g722.
LANGUAGES = ("en", "es", "fr", "it", "ru")
#: Prompts that are tones, not speech.
TONE_PROMPTS = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})
#: Licences when the copyright file is absent (verified on 1.6.1-1's copyright file).
KNOWN_LICENCES = {
    "en": ("CC-BY-SA-3.0", "2003-2010, Allison Smith"),
    "es": ("CC-BY-SA-3.0", "2003-2010, Allison Smith"),
    "fr": ("CC-BY-SA-3.0", "2006-2008, June Wallack"),
    "it": ("CC-BY-3.0", "2012 Carlo Flora"),
    "ru": ("CC-BY-3.0", "2010, Maxim"),
}
_VOICE_DIR = re.compile(r"^(?P<lang>[a-z]{2})_(?P<region>[A-Z]{2})_(?P<sex>[fm])_(?P<speaker>\w+)$")


def package_name(lang: str) -> str:
    """Debian package of one language's G.722 prompts."""
    return f"asterisk-core-sounds-{lang}-g722"


def install_command(langs: list[str] | tuple[str, ...]) -> str:
    """The apt-get command installing the prompts of ``langs``."""
    return "apt-get install -y " + " ".join(package_name(lang) for lang in langs)


def decode_g722(path: str | Path, decoder: str = "g722") -> np.ndarray:
    """Decode a raw 64 kbit/s G.722 file to float32 samples at 16 kHz.

    Parameters
    ----------
    path : str or Path
        Headerless G.722 file (Asterisk ``.g722``).
    decoder : str
        "g722" (PyPI ``G722``, libg722) or "ffmpeg" (the ``ffmpeg`` program).

    Returns
    -------
    np.ndarray
        Shape ``(2 * n_bytes,)``, float32 in [-1, 1).

    Raises
    ------
    InputError
        If the file is missing or the decoder is not installed (with the install command).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"G.722 file not found: {path}")
    if decoder == "g722":
        try:
            import G722
        except ImportError as exc:
            raise InputError(
                "decoding G.722 needs the PyPI package G722: pip install G722 "
                "(or decoder=ffmpeg with Debian's ffmpeg)"
            ) from exc
        pcm = np.asarray(G722.G722(G722_RATE, 64000).decode(path.read_bytes()), dtype=np.int16)
    elif decoder == "ffmpeg":
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "g722",
               "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(G722_RATE), "-"]
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except FileNotFoundError as exc:
            raise InputError("decoder=ffmpeg needs ffmpeg: apt-get install -y ffmpeg") from exc
        if out.returncode != 0:
            raise InputError(f"ffmpeg could not decode {path}: {out.stderr.decode(errors='replace')}")
        pcm = np.frombuffer(out.stdout, dtype=np.int16)
    else:
        raise ParameterError(f"decoder={decoder!r}; choose 'g722' or 'ffmpeg'")
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32, copy=False)


class Asterisk(PackagedDataset):
    """Asterisk voice prompts in several languages (16 kHz G.722, CC-BY-SA-3.0 / CC-BY-3.0)."""

    name: ClassVar[str] = "asterisk"

    @dataclass
    class Params(PackagedParams):
        """Parameters of the Asterisk prompts.

        Attributes
        ----------
        languages : list of str
            Two-letter language codes (en, es, fr, it, ru); each needs its package.
        decoder : str
            "g722" (PyPI G722) or "ffmpeg".
        copyright_dir : str
            Folder of the packages' ``<package>/copyright`` files.
        exclude : list of str
            Prompt names (file stems, e.g. "vm-review") left out before the subset draw.
        """

        languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
        decoder: str = "g722"
        copyright_dir: str = "/usr/share/doc"
        exclude: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Check the languages, the decoder and the selection options."""
        super().validate()
        bad = [lang for lang in self.params.languages if not re.fullmatch(r"[a-z]{2}", str(lang))]
        if bad or not self.params.languages:
            raise ParameterError(
                f"languages={list(self.params.languages)}: give two-letter codes, e.g. {list(LANGUAGES)}"
            )
        if self.params.decoder not in ("g722", "ffmpeg"):
            raise ParameterError(f"decoder={self.params.decoder!r}; choose 'g722' or 'ffmpeg'")

    def voice_dirs(self) -> dict[str, list[Path]]:
        """The voice folders of each language under the root.

        Raises
        ------
        InputError
            If a language has no folder, naming the package and the install command.
        """
        root = Path(self.params.root).expanduser() if self.params.root else DEFAULT_ROOT
        found: dict[str, list[Path]] = {}
        if root.is_dir():
            for d in sorted(root.iterdir()):
                m = _VOICE_DIR.match(d.name)
                if m and d.is_dir() and not d.is_symlink():
                    found.setdefault(m.group("lang"), []).append(d)
        missing = [lang for lang in self.params.languages if lang not in found]
        if missing:
            raise missing_data(
                f"dataset 'asterisk': the {', '.join(missing)} prompts (Debian "
                f"{', '.join(package_name(x) for x in missing)})",
                root, install_command(missing),
            )
        return {lang: found[lang] for lang in self.params.languages}

    def licence(self, lang: str) -> tuple[str, str]:
        """``(licence, where it was read)`` for one language."""
        cfile = Path(self.params.copyright_dir) / package_name(lang) / "copyright"
        if cfile.is_file():
            para = dep5_licence(read_dep5(cfile), f"{lang}-prompts")
            if para is not None and para.licence:
                return f"{para.licence} (c) {para.copyright}", str(cfile)
        lic, holder = KNOWN_LICENCES.get(lang, ("unknown", ""))
        return f"{lic} (c) {holder}", "melbench table (copyright file not found)"

    def entries(self) -> list[Entry]:
        """Every prompt of the selected languages (ids ``<voice folder>/<relative path>``)."""
        out = []
        for lang, dirs in self.voice_dirs().items():
            licence, licence_src = self.licence(lang)
            pkg = package_name(lang)
            version = package_version(pkg)
            for d in dirs:
                m = _VOICE_DIR.match(d.name)
                assert m is not None
                for f in sorted(d.rglob("*.g722")):
                    rel = f.relative_to(d)
                    if rel.parts[0] == "silence" or f.stem in self.params.exclude:
                        continue
                    meta: dict[str, Any] = {
                        "kind": "other" if f.stem in TONE_PROMPTS else "speech",
                        "source": f"asterisk/{d.name}", "licence": licence,
                        "licence_file": licence_src, "package": f"{pkg} {version}".strip(),
                        "language": lang, "speaker": m.group("speaker"), "sex": m.group("sex"),
                    }
                    cid = f"{d.name}/{rel.with_suffix('').as_posix()}"
                    out.append(Entry(cid, f, f.stat().st_size * 2 / G722_RATE, meta))
        if not out:
            folders = [str(d) for v in self.voice_dirs().values() for d in v]
            raise InputError(f"dataset 'asterisk': no .g722 files in {folders}")
        return out

    def load(self, entry: Entry, spec: FeatureSpec) -> Clip:
        """Decode one prompt (G.722) and resample it to the spec's rate."""
        meta = {**entry.meta, "path": str(entry.path), "source_sample_rate": G722_RATE}
        try:
            y = resample(decode_g722(entry.path, self.params.decoder), G722_RATE, spec.sample_rate)
        except InputError as exc:
            return Clip(id=entry.id, sample_rate=spec.sample_rate, meta=meta, error=str(exc))
        return Clip(id=entry.id, audio=y, sample_rate=spec.sample_rate, meta=meta)
