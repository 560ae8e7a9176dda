"""The MCD that TTS papers report (WORLD/SPTK mel-cepstra), F0 RMSE and voicing error.

Analysis (``pyworld``, the WORLD vocoder of Morise et al. 2016, from the
``pyworld-prebuilt`` wheel, and ``pysptk``): F0 by DIO + StoneMask refinement
(``pyworld.wav2world``'s choice) or Harvest, every ``frame_period`` ms; the
spectral envelope by CheapTrick; mel-cepstrum ``c_0..c_M`` of the envelope by
``pysptk.sp2mc(envelope, M, alpha)`` with the all-pass constant ``alpha`` from
``pysptk.util.mcepalpha(rate)`` (0.41 at 16 kHz, 0.455 at 22.05 kHz, 0.466 at
24 kHz) unless given. Both signals are analysed at the spec's rate.

Mel cepstral distortion (Kubichek 1993; the ESPnet ``evaluate_mcd`` and ``pymcd``
convention), in dB, per frame and averaged over frames::

    MCD = 10 / ln(10) * sqrt(2 * sum_{d=1..M} (c_d - c'_d)^2)

``c_0`` (the frame energy) is excluded unless ``include_c0`` (ESPnet's
``evaluate_mcd`` includes it). The signals of a melbench cell are time-aligned,
so frames are paired one to one; ``dtw=True`` pairs them along the dynamic time
warping path of the Euclidean distance of ``c_1..c_M`` instead (for outputs of
another length or timing).

F0 RMSE, in cents (``1200 log2(f0' / f0)``), over frames voiced in both signals;
the voicing (V/UV) error is the percentage of frames whose voiced/unvoiced decision
differs (WORLD marks unvoiced frames with F0 = 0). Both apply to monophonic
voiced material: clips of a known kind other than speech get a reason instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np

from ..errors import ParameterError, SkipCell
from ..plugin import Metric
from .base import Missing
from .material import check_pair, clip_kind, dist_version, missing_package

#: ``10 / ln 10 * sqrt(2)``: dB per unit of the cepstral Euclidean distance (about 6.1419).
MCD_DB_PER_UNIT = 10.0 / math.log(10.0) * math.sqrt(2.0)
#: Fewest frames voiced in both signals for an F0 RMSE.
MIN_VOICED_FRAMES = 10


def world_features(
    y: np.ndarray, sample_rate: int, *, order: int = 24, alpha: float | None = None,
    frame_period: float = 5.0, f0_method: str = "dio", f0_floor: float = 71.0,
    f0_ceil: float = 800.0,
) -> tuple[np.ndarray, np.ndarray]:
    """F0 and mel-cepstrum of one signal by WORLD and SPTK.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono signal ``(n_samples,)``.
    sample_rate : int
        Its rate in Hz.
    order : int
        Mel-cepstral order ``M`` (``M + 1`` coefficients ``c_0..c_M``).
    alpha : float, optional
        All-pass constant; None for ``pysptk.util.mcepalpha(sample_rate)``.
    frame_period : float
        Frame period in ms.
    f0_method : {"dio", "harvest"}
        DIO + StoneMask or Harvest.
    f0_floor, f0_ceil : float
        F0 search range in Hz.

    Returns
    -------
    f0 : np.ndarray [shape=(frames,)]
        ``(frames,)`` in Hz, 0 in unvoiced frames.
    mcep : np.ndarray [shape=(frames, order + 1)]
        ``(frames, order + 1)`` mel-cepstrum.
    """
    import pysptk
    import pyworld

    x = np.ascontiguousarray(y, dtype=np.float64)
    if f0_method == "dio":
        f0, t = pyworld.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil,
                            frame_period=frame_period)
        f0 = pyworld.stonemask(x, f0, t, sample_rate)
    elif f0_method == "harvest":
        f0, t = pyworld.harvest(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil,
                                frame_period=frame_period)
    else:
        raise ParameterError(f"f0_method={f0_method!r}; choose 'dio' or 'harvest'")
    envelope = pyworld.cheaptrick(x, f0, t, sample_rate, f0_floor=f0_floor)
    a = float(pysptk.util.mcepalpha(sample_rate)) if alpha is None else float(alpha)
    return f0, pysptk.sp2mc(envelope, order, a)


@numba.njit(cache=True)
def _dtw_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n, m = a.shape[0], b.shape[0]
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = 0.0
            for k in range(a.shape[1]):
                diff = a[i - 1, k] - b[j - 1, k]
                d += diff * diff
            acc[i, j] = math.sqrt(d) + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return acc


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Dynamic time warping of two feature sequences (Euclidean local cost).

    Steps (1, 1), (1, 0), (0, 1) with equal weights; ties on the way back prefer
    the diagonal.

    Parameters
    ----------
    a, b : np.ndarray [shape=(n, d) and (m, d)]
        ``(n, d)`` and ``(m, d)`` feature sequences.

    Returns
    -------
    path : np.ndarray [shape=(L, 2)]
        ``(L, 2)`` index pairs ``(i, j)`` from ``(0, 0)`` to ``(n - 1, m - 1)``.
    cost : float
        Accumulated local cost along the path.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    acc = _dtw_cost(a, b)
    i, j = a.shape[0], b.shape[0]
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        steps = ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1))
        _, i, j = min(steps, key=lambda s: s[0])
        path.append((i - 1, j - 1))
    return np.array(path[::-1]), float(acc[-1, -1])


def mel_cepstral_distortion(
    ref_mcep: np.ndarray, est_mcep: np.ndarray, *, include_c0: bool = False,
    path: np.ndarray | None = None,
) -> float:
    """Mean MCD in dB: ``10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2)`` over frame pairs.

    Parameters
    ----------
    ref_mcep, est_mcep : np.ndarray [shape=(frames, order + 1)]
        ``(frames, order + 1)`` mel-cepstra (equal frame counts unless ``path``).
    include_c0 : bool
        Include ``c_0`` (the energy term) in the sum.
    path : np.ndarray, optional
        ``(L, 2)`` frame pairs (e.g. from :func:`dtw_path`); None pairs frame ``t`` with ``t``.

    Returns
    -------
    float
        MCD in dB (0 for identical cepstra).
    """
    start = 0 if include_c0 else 1
    r, e = ref_mcep[:, start:], est_mcep[:, start:]
    if path is None:
        if r.shape != e.shape:
            raise SkipCell(f"mel-cepstra have {r.shape[0]} and {e.shape[0]} frames; use dtw=true")
    else:
        r, e = r[path[:, 0]], e[path[:, 1]]
    return float(np.mean(MCD_DB_PER_UNIT * np.sqrt(np.sum((r - e) ** 2, axis=1))))


def f0_errors(ref_f0: np.ndarray, est_f0: np.ndarray) -> tuple[float, float]:
    """F0 RMSE in cents over frames voiced in both, and the V/UV error in percent.

    Parameters
    ----------
    ref_f0, est_f0 : np.ndarray [shape=(frames,)]
        ``(frames,)`` F0 in Hz, 0 where unvoiced (paired frame by frame).

    Returns
    -------
    rmse_cents : float
        ``sqrt(mean((1200 log2(f0' / f0))^2))``; NaN with fewer than
        :data:`MIN_VOICED_FRAMES` frames voiced in both.
    vuv_error_pct : float
        Percentage of frames whose voicing decisions differ.
    """
    rv, ev = ref_f0 > 0, est_f0 > 0
    both = rv & ev
    vuv = float(100.0 * np.mean(rv != ev))
    if both.sum() < MIN_VOICED_FRAMES:
        return math.nan, vuv
    cents = 1200.0 * np.log2(est_f0[both] / ref_f0[both])
    return float(np.sqrt(np.mean(cents**2))), vuv


class WorldMCD(Metric):
    """The MCD of TTS papers (WORLD/SPTK mel-cepstrum), F0 RMSE (cents) and V/UV error (%).

    Columns ``mcd_world_db`` (dB), ``f0_rmse_cents`` and ``vuv_error_pct`` (lower is
    better) and the text column ``mcd_world_info`` (analysis, order, all-pass constant,
    c0, DTW, package versions). F0 columns need voiced material: a clip of a known
    kind other than speech gets a reason. Needs reference audio and the ``world``
    extra (``pip install -e '.[world]'`` in melbench's clone).

    References
    ----------
    .. [1] R. Kubichek, "Mel-cepstral distance measure for objective speech quality assessment,"
       IEEE Pacific Rim Conf. on Communications, Computers and Signal Processing 1993.
    .. [2] M. Morise, F. Yokomori and K. Ozawa, "WORLD: a vocoder-based high-quality speech
       synthesis system for real-time applications," IEICE Trans. Information and Systems
       E99-D(7):1877-1884, 2016.
    """

    name: ClassVar[str] = "mcd_world"
    columns: ClassVar[tuple[str, ...]] = ("mcd_world_db", "f0_rmse_cents", "vuv_error_pct")
    better: ClassVar[dict[str, str]] = {c: "lower" for c in columns}
    needs_reference: ClassVar[bool] = True
    deferred: ClassVar[bool] = True

    @dataclass
    class Params:
        """Parameters of the WORLD/SPTK MCD.

        Attributes
        ----------
        order : int
            Mel-cepstral order M (c1..cM compared; 24 gives the common 25-dimensional mcep).
        alpha : float or None
            All-pass constant; None for ``pysptk.util.mcepalpha(rate)``.
        include_c0 : bool
            Include c0 (energy) in the distance (ESPnet's evaluate_mcd does).
        dtw : bool
            Pair frames along a DTW path instead of one to one.
        f0_method : str
            "dio" (DIO + StoneMask, fast) or "harvest" (slower, fewer octave errors).
        frame_period : float
            Analysis frame period in ms.
        """

        order: int = 24
        alpha: float | None = None
        include_c0: bool = False
        dtw: bool = False
        f0_method: str = "dio"
        frame_period: float = 5.0

    def validate(self) -> None:
        """Check order, all-pass constant, F0 method and frame period."""
        p = self.params
        if not isinstance(p.order, (int, np.integer)) or p.order < 1:
            raise ParameterError(f"mcd_world order={p.order!r} must be a whole number >= 1")
        if p.alpha is not None and not -1 < float(p.alpha) < 1:
            raise ParameterError(f"mcd_world alpha={p.alpha!r} must lie in (-1, 1) (or null: "
                                 "pysptk.util.mcepalpha of the rate)")
        if p.f0_method not in ("dio", "harvest"):
            raise ParameterError(f"mcd_world f0_method={p.f0_method!r}; choose 'dio' or 'harvest'")
        if not p.frame_period > 0:
            raise ParameterError(f"mcd_world frame_period={p.frame_period!r} must be positive (ms)")

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Analyse both signals and return MCD, F0 RMSE and V/UV error (or reasons)."""
        for module, dist in (("pyworld", "pyworld-prebuilt"), ("pysptk", "pysptk")):
            absent = missing_package(module, "world", dist)
            if absent is not None:
                return dict.fromkeys(self.columns, absent) | {"mcd_world_info": f"{dist} absent"}
        import pysptk

        p = self.params
        sr = int(ctx["sample_rate"])
        try:
            ref, est = check_pair(ctx["reference"], ctx["estimate"])
            if not est.any():
                raise SkipCell("estimate is silent (all samples are zero): its log spectral "
                               "envelope is undefined")
        except SkipCell as exc:
            return dict.fromkeys(self.columns, Missing(str(exc)))
        alpha = float(pysptk.util.mcepalpha(sr)) if p.alpha is None else float(p.alpha)
        kw = {"order": int(p.order), "alpha": alpha, "frame_period": float(p.frame_period),
              "f0_method": p.f0_method}
        ref_f0, ref_mc = world_features(ref, sr, **kw)
        est_f0, est_mc = world_features(est, sr, **kw)
        path = dtw_path(ref_mc[:, 1:], est_mc[:, 1:])[0] if p.dtw else None
        out: dict[str, Any] = {}
        mcd = mel_cepstral_distortion(ref_mc, est_mc, include_c0=p.include_c0, path=path)
        out["mcd_world_db"] = mcd if math.isfinite(mcd) else Missing(
            f"the mel-cepstral distance is {mcd} (a spectral envelope with zeros)")
        kind = clip_kind(ctx)
        if kind and kind != "speech":
            why = Missing(f"F0 and voicing errors are for voiced speech; the clip is {kind}")
            out["f0_rmse_cents"] = out["vuv_error_pct"] = why
        else:
            if path is not None:
                ref_f0, est_f0 = ref_f0[path[:, 0]], est_f0[path[:, 1]]
            rmse, vuv = f0_errors(ref_f0, est_f0)
            out["f0_rmse_cents"] = rmse if math.isfinite(rmse) else Missing(
                f"fewer than {MIN_VOICED_FRAMES} frames are voiced in both signals")
            out["vuv_error_pct"] = vuv
        alpha_src = "given" if p.alpha is not None else f"mcepalpha({sr})"
        out["mcd_world_info"] = (
            f"WORLD {'dio+stonemask' if p.f0_method == 'dio' else 'harvest'} {p.frame_period:g} ms, "
            f"cheaptrick, sp2mc order {p.order} alpha {alpha:.3f} ({alpha_src}), "
            f"c0 {'included' if p.include_c0 else 'excluded'}, {'DTW' if p.dtw else 'no DTW'}; "
            f"pyworld-prebuilt {dist_version('pyworld-prebuilt')}, pysptk {dist_version('pysptk')}")
        return out
