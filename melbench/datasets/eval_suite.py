"""``eval_suite``: the evaluation suite's clip set, drawn (seeded) from the packaged datasets.

One dataset that yields, in this order:

* ``asterisk_per_language`` prompts of each language in ``asterisk_languages``
  (speech; en, es: Allison Smith, fr: June Wallack, it: Carlo Flora, ru: ivrvoice.ru),
  see :mod:`melbench.datasets.asterisk`; prompts the bundled set already holds
  (``allison_*``, same recordings at 8 kHz) are left out;
* ``sonic_pi`` samples (drums, instruments, loops: music; a few effects: other),
  see :mod:`melbench.datasets.sonic_pi`;
* the ltfatpy signals ``ltfat`` (glockenspiel, two speech signals),
  see :mod:`melbench.datasets.ltfat_signals`;
* the six bundled clips (``bundled=true``).

Each source draws its subset with ``seed`` (see :func:`melbench.datasets.packaged.select`)
among clips of at least ``min_duration`` seconds; every clip is cropped to its first
``max_duration`` seconds (the row's ``duration`` is the cropped one, the clip's
``cropped_from`` meta the original). With the defaults: 5 x 28 + 60 + 3 + 6 = 209 clips,
at most 4 s each. Rows carry each clip's ``kind``, ``source`` and ``licence``.
When a source is not installed the error names every missing package and the
command installing it (``make eval-data``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import InputError, ParameterError
from ..plugin import Dataset
from ..spec import FeatureSpec
from .asterisk import LANGUAGES, Asterisk
from .base import Clip
from .bundled import Bundled, read_manifest
from .ltfat_signals import SIGNALS, LtfatSignals
from .sonic_pi import SonicPi


class EvalSuite(Dataset):
    """The evaluation suite: speech in 5 languages, Sonic Pi music, ltfatpy signals, bundled."""

    name: ClassVar[str] = "eval_suite"

    @dataclass
    class Params:
        """Parameters of the evaluation suite's clip set.

        Attributes
        ----------
        seed : int
            Seed of every source's subset draw.
        max_duration : float
            Clips are cropped to their first ``max_duration`` seconds (0 = no crop).
        min_duration : float
            Shorter packaged clips are not drawn (seconds).
        asterisk_languages : list of str
            Languages of the Asterisk prompts.
        asterisk_per_language : int
            Prompts drawn per language (0 = leave Asterisk out).
        sonic_pi : int
            Sonic Pi samples drawn (0 = leave them out).
        ltfat : list of str
            ltfatpy signals (empty = leave them out).
        bundled : bool
            Include the six bundled clips.
        asterisk_root, sonic_pi_root, ltfat_root : str
            Each source's ``root`` ("" = its installed location).
        """

        seed: int = 0
        max_duration: float = 4.0
        min_duration: float = 0.5
        asterisk_languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
        asterisk_per_language: int = 28
        sonic_pi: int = 60
        ltfat: list[str] = field(default_factory=lambda: list(SIGNALS))
        bundled: bool = True
        asterisk_root: str = ""
        sonic_pi_root: str = ""
        ltfat_root: str = ""

    def validate(self) -> None:
        """Check counts and durations."""
        p = self.params
        if p.asterisk_per_language < 0 or p.sonic_pi < 0:
            raise ParameterError("asterisk_per_language and sonic_pi must be >= 0")
        if p.max_duration < 0 or p.min_duration < 0:
            raise ParameterError("max_duration and min_duration must be >= 0")

    def sources(self) -> list[Dataset]:
        """The configured source datasets (built, not yet read)."""
        p = self.params
        sel = {"seed": p.seed, "max_duration": p.max_duration, "min_duration": p.min_duration}
        out: list[Dataset] = []
        if p.asterisk_per_language and p.asterisk_languages:
            bundled = [r["id"].removeprefix("allison_") for r in read_manifest()
                       if r["id"].startswith("allison_")]
            for lang in p.asterisk_languages:
                out.append(Asterisk(languages=[lang], subset=p.asterisk_per_language,
                                    exclude=bundled if lang == "en" else [], root=p.asterisk_root,
                                    **sel))
        if p.sonic_pi:
            out.append(SonicPi(subset=p.sonic_pi, root=p.sonic_pi_root, **sel))
        if p.ltfat:
            out.append(LtfatSignals(names=list(p.ltfat), max_duration=p.max_duration,
                                    root=p.ltfat_root))
        return out

    def check_installed(self) -> None:
        """Raise one :class:`InputError` listing every source that is not installed."""
        problems = []
        for ds in self.sources():
            try:
                ds.entries()  # type: ignore[attr-defined]
            except InputError as exc:
                problems.append(str(exc).split("\n")[0] + "\n    " + str(exc).split("\n")[1].strip())
        if problems:
            raise InputError(
                "dataset 'eval_suite': some evaluation data is not installed; run `make eval-data` "
                "(as root for the Debian packages), or install each:\n" + "\n".join(problems)
            )

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield every source's selected clips (see the module docstring)."""
        self.check_installed()
        for ds in self.sources():
            yield from ds.clips(spec)
        if self.params.bundled:
            for clip in Bundled().clips(spec):
                clip.id = f"bundled/{clip.id}"
                if self.params.max_duration and clip.audio is not None:
                    n = clip.audio.shape[-1] / clip.sample_rate
                    if n > self.params.max_duration:
                        clip.audio = clip.audio[: int(round(self.params.max_duration * clip.sample_rate))]
                        clip.meta["cropped_from"] = n
                yield clip
