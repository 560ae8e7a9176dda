"""ViSQOL v3 MOS-LQO through the ``visqol-python`` package, speech and audio modes.

Reference: Chinen et al. 2020, "ViSQOL v3: An Open Source Production Ready Objective
Speech and Audio Metric", QoMEX.

``visqol-python`` is a pure-Python port of Google's C++ ViSQOL (conformance-tested
against v3.3.3 by its author). It compares a reference with a degraded signal in
a gammatone spectrogram (NSIM over patches) and maps the similarity to MOS-LQO:

speech mode
    16 kHz, 21 bands up to 8 kHz, voice-activity based patches; MOS-LQO from the
    deep-lattice model (the C++ default) when ``ai-edge-litert`` is installed,
    else from the exponential polynomial fit (C++ ``--use_lattice_model=false``,
    which the package's author says can over-predict degraded speech by 1-2 points).
    The mapper used is recorded in the row. Scale about 1 to 4.65 (lattice).
audio mode
    48 kHz, 32 bands up to 15 kHz, SVR mapping; the perceptual metric for music
    and general audio. Scale about 1 to 4.75.

Both signals are resampled with soxr (quality "VHQ", float64) from the spec's rate
to the mode's rate; the text column ``visqol_info`` records the resampling, the
mapper and the package version, e.g. ``"speech: 22050->16000 Hz (soxr VHQ),
lattice mapper; visqol-python 3.8.0"``.

Scores are reproducible to the last digit, and safe in forked metric workers: the
package's parallel numba kernels and libsvm's OpenMP loops run on one thread during
the call (see :func:`_one_thread`).

Cost: the package compiles numba kernels on its first call (about 30 s, cached on
disk by numba, so later processes start in about 1.5 s); then about 0.15 s (speech)
and 0.4 s (audio) per second of audio on one core (see ``melbench bench metrics``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from .base import Missing
from .material import check_pair, clip_kind, dist_version, missing_package, resample_note, resample_to

#: Rate of each ViSQOL mode (the package's 16 kHz speech and 48 kHz audio models).
VISQOL_RATES: dict[str, int] = {"speech": 16000, "audio": 48000}
#: Per process: ``(mode, use_lattice) -> visqol.VisqolApi`` (creating one loads its models).
_APIS: dict[tuple[str, bool | None], Any] = {}


def lattice_available() -> bool:
    """True if speech mode can use the deep-lattice mapper (``ai-edge-litert`` installed)."""
    try:
        from visqol.quality_mapper import has_lattice_runtime
    except ImportError:  # pragma: no cover - older visqol-python
        return False
    return bool(has_lattice_runtime())


def _api(mode: str, use_lattice: bool | None) -> Any:
    key = (mode, use_lattice)
    if key not in _APIS:
        from visqol import VisqolApi

        api = VisqolApi()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lattice runtime not installed": recorded instead
            kwargs = {"use_lattice_model": use_lattice} if mode == "speech" else {}
            api.create(mode=mode, **kwargs)
        _APIS[key] = api
    return _APIS[key]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run the package's numba kernels and libsvm's OpenMP loops on one thread, then restore.

    * numba: its parallel reductions change the last digits (about 1e-14) from call to
      call with several threads; one thread makes scores reproducible. If numba has not
      started its threads yet it is told to use its "workqueue" layer, because GNU
      OpenMP (numba's default here) aborts a forked metric worker whose parent used it.
    * libsvm (audio mode's SVR, built with GNU OpenMP): its parallel reduction varies
      the last digits too, and a thread team left by the parent deadlocks
      ``svm_predict`` in a forked metric worker; with one thread no team exists.

    Parallelism comes from the metric pool (one clip per worker) instead.
    """
    import numba
    from numba.np.ufunc import parallel as numba_parallel

    if not getattr(numba_parallel, "_is_initialized", True):
        numba.config.THREADING_LAYER = "workqueue"
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    gomp = _libgomp()
    omp_threads = gomp.omp_get_max_threads() if gomp is not None else 0
    if gomp is not None:
        gomp.omp_set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)
        if gomp is not None:
            gomp.omp_set_num_threads(omp_threads)


@functools.cache
def _libgomp() -> Any:
    """GNU OpenMP's runtime (as libsvm loads it), or None where it is not available."""
    import ctypes

    try:
        return ctypes.CDLL("libgomp.so.1")
    except OSError:
        return None


def visqol_moslqo(
    reference: Any, estimate: Any, sample_rate: int, *, mode: str = "audio",
    use_lattice: bool | None = None,
) -> float:
    """ViSQOL MOS-LQO of ``estimate`` against ``reference`` in one mode.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n_samples,)]
        Time-aligned mono signals ``(n_samples,)`` of equal length at ``sample_rate``.
    sample_rate : int
        Their rate in Hz; both are resampled with soxr VHQ to the mode's rate
        (:data:`VISQOL_RATES`) before ``VisqolApi.measure_from_arrays``.
    mode : {"speech", "audio"}
        ViSQOL's speech (16 kHz) or audio (48 kHz) mode.
    use_lattice : bool, optional
        Speech mode's mapper: None (lattice if installed), True or False (polynomial).

    Returns
    -------
    float
        MOS-LQO, about 1 (bad) to 4.65 (speech, lattice) or 4.75 (audio); the same
        value on every call (numba kernels on one thread).

    Raises
    ------
    SkipCell
        With the reason: NaN/Inf samples, silent reference or estimate, lengths
        that differ, or the package's own error.
    """
    if mode not in VISQOL_RATES:
        raise ParameterError(f"visqol mode={mode!r}; choose 'speech' or 'audio'")
    ref, est = check_pair(reference, estimate)
    if not est.any():
        raise SkipCell("estimate is silent (all samples are zero); ViSQOL's level alignment "
                       "is undefined for a silent signal")
    rate = VISQOL_RATES[mode]
    ref_r = resample_to(ref, sample_rate, rate)
    est_r = resample_to(est, sample_rate, rate)
    api = _api(mode, use_lattice)
    quiet = logging.getLogger("visqol")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its sample-rate hints would repeat for every clip
    try:
        with _one_thread(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            result = api.measure_from_arrays(ref_r, est_r, sample_rate=rate)
    except Exception as exc:  # noqa: BLE001 - the package's errors become the reason
        seconds = ref.size / sample_rate
        short = " (too short for its patches: ViSQOL needs about 1 s)" if seconds < 1.0 else ""
        raise SkipCell(f"visqol-python failed in {mode} mode on a {seconds:.2f} s clip{short}: "
                       f"{type(exc).__name__}: {exc}") from exc
    finally:
        quiet.setLevel(level)
    value = float(result.moslqo)
    if value != value:
        raise SkipCell(f"visqol-python returned {value} in {mode} mode")
    return value


class Visqol(Metric):
    """ViSQOL v3 MOS-LQO: speech mode (16 kHz) for speech, audio mode (48 kHz) for music.

    Columns ``visqol_speech`` and ``visqol_audio`` (MOS-LQO, higher is better) and
    the text column ``visqol_info`` (resampling, mapper, package version). With
    ``mode="auto"`` a clip of kind ``speech`` gets speech mode and a clip of any
    other known kind (music, other...) audio mode; the other column is missing
    with that reason. A clip with no kind gets ``fallback``. Needs reference audio;
    the ``visqol`` extra (``pip install -e '.[visqol]'`` in melbench's clone).

    References
    ----------
    .. [1] M. Chinen, F. S. C. Lim, J. Skoglund, N. Gureev, F. O'Gorman and A. Hines, "ViSQOL
       v3: an open source production ready objective speech and audio metric," QoMEX 2020.
    """

    name: ClassVar[str] = "visqol"
    columns: ClassVar[tuple[str, ...]] = ("visqol_speech", "visqol_audio")
    better: ClassVar[dict[str, str]] = {"visqol_speech": "higher", "visqol_audio": "higher"}
    needs_reference: ClassVar[bool] = True
    deferred: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of ViSQOL.

        Attributes
        ----------
        mode : str
            "auto" (by the clip's kind), "speech", "audio" (that mode only, one
            column) or "both" (both modes on every clip).
        fallback : str
            Mode for clips without a kind when ``mode="auto"``: "audio" or "speech".
        lattice : str
            Speech mode's MOS mapper: "auto" (lattice if ``ai-edge-litert`` is
            installed, else polynomial), "yes" (lattice, else a missing value) or
            "no" (polynomial).
        """

        mode: str = "auto"
        fallback: str = "audio"
        lattice: str = "auto"

    def validate(self) -> None:
        """Check the parameters; a single mode narrows the columns to that one."""
        p = self.params
        if p.mode not in ("auto", "both", *VISQOL_RATES):
            raise ParameterError(f"visqol mode={p.mode!r}; choose 'auto', 'speech', 'audio' or 'both'")
        if p.fallback not in VISQOL_RATES:
            raise ParameterError(f"visqol fallback={p.fallback!r}; choose 'audio' or 'speech'")
        if p.lattice not in ("auto", "yes", "no"):
            raise ParameterError(f"visqol lattice={p.lattice!r}; choose 'auto', 'yes' or 'no'")
        if p.mode in VISQOL_RATES:
            self.columns = (f"visqol_{p.mode}",)
            self.better = {f"visqol_{p.mode}": "higher"}

    def modes_for(self, kind: str) -> dict[str, str | None]:
        """``{mode: None if scored else the reason it is not}`` for a clip of ``kind``."""
        p = self.params
        wanted = [c.removeprefix("visqol_") for c in self.columns]
        if p.mode != "auto":
            return dict.fromkeys(wanted)
        if not kind:
            chosen, why = p.fallback, f"the clip has no kind, so fallback={p.fallback!r} applies"
        elif kind == "speech":
            chosen, why = "speech", "the clip is speech"
        else:
            chosen, why = "audio", f"the clip is {kind}, not speech"
        return {m: None if m == chosen else f"{why} (ViSQOL {chosen} mode scored instead)"
                for m in wanted}

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Score the modes the clip's kind calls for; the others get a reason."""
        absent = missing_package("visqol", "visqol", "visqol-python")
        if absent is not None:
            return {c: absent for c in self.columns} | {"visqol_info": "visqol-python absent"}
        sr = int(ctx["sample_rate"])
        lattice = {"auto": None, "yes": True, "no": False}[self.params.lattice]
        has_lattice = lattice_available()
        out: dict[str, Any] = {}
        info = []
        for mode, why_not in self.modes_for(clip_kind(ctx)).items():
            col = f"visqol_{mode}"
            if why_not is not None:
                out[col] = Missing(why_not)
                continue
            note = f"{mode}: {resample_note(sr, VISQOL_RATES[mode])}"
            if mode == "speech":
                if lattice is True and not has_lattice:
                    out[col] = Missing("lattice=yes but ai-edge-litert (the lattice runtime) is not "
                                       "installed; `pip install -e '.[visqol]'` in melbench's clone")
                    continue
                use = has_lattice if lattice is None else lattice
                note += ", lattice mapper" if use else ", polynomial mapper"
            info.append(note)
            try:
                out[col] = visqol_moslqo(ctx["reference"], ctx["estimate"], sr, mode=mode,
                                         use_lattice=lattice)
            except SkipCell as exc:
                out[col] = Missing(str(exc))
        out["visqol_info"] = "; ".join([*info, f"visqol-python {dist_version('visqol-python')}"])
        return out
