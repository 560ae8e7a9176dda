"""Rule h of :mod:`melbench.inverters.guarded`: a short GLA tail at dense full-band filterbanks.

At the presets whose mel has at least :data:`DENSE_MIN_BANDS` bands reaching the Nyquist
frequency (``vocos_24k``, ``bigvgan_24k_100``, ``bigvgan_44k_128``), ``nnls`` +
``fgla:100`` recovers the magnitude well (mean SC against the true magnitude -19.3 to
-19.8 dB on the evaluation suite's speech, against -14.8 to -16.3 dB at the 80-band
presets), and the guard's kept inner lost to it by more than issue 16's 0.3 dB
SC on 9-21 % of the suite's speech clips while scoring higher PESQ-wb on almost all of them
(``results/suite_presets.md``). The SC loss grows as the mel gets smoother across bands
(Spearman -0.74 to -0.76 with :func:`~melbench.inverters.guarded.band_roughness_db`). Where the
inner is kept at such a filterbank and the mel's band roughness is at most
:data:`DENSE_TAIL_ROUGH_DB`, ``n_iter`` Griffin-Lim iterations (no momentum) follow the
kept inner's (blended) estimate: they make it more consistent, which lowers the SC loss,
and, being few and without momentum, cost little PESQ (FGLA tails of 8 or 32 iterations
cost 0.05). Chosen on the even-index clips of every third suite clip and
confirmed on the odd ones, then held out on the other two thirds (rows over 45 -> 38, mean
speech PESQ-wb -0.001 to -0.004; ``results/suite_presets.md``, "Rule h"). Not at a long-frame
framing where ``joint_tcf`` shortens the inner's continuity prior
(:func:`melbench.inverters.joint_framing.glide_bins` above ``GLIDE_REF``): at ``librosa``
(128 bands up to sr/2, 2048/512 at 22.05 kHz) most mels are smoother than the roughness
limit and the tail cost 0.022 PESQ-wb on the speech it reached.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec import FeatureSpec
from .joint_framing import GLIDE_REF, glide_bins

#: Bands a filterbank needs (with its top band at the Nyquist frequency) for rule h.
DENSE_MIN_BANDS = 100
#: Rule h acts on mels whose band roughness is at most this (dB).
DENSE_TAIL_ROUGH_DB = 4.5


def dense_full_band(spec: FeatureSpec) -> bool:
    """True at a framing and filterbank where rule h may act.

    At least :data:`DENSE_MIN_BANDS` mel bands, the top one reaching the Nyquist frequency
    (``fmax`` None or at least ``0.99 * sr / 2``), more than 50 % overlap
    (``win_length > 2 hop_length``: at 50 % overlap rule g's tail acts instead), and frames
    short enough that ``joint_tcf`` keeps its continuity prior as measured at speech16k
    (:func:`~melbench.inverters.joint_framing.glide_bins` at most ``GLIDE_REF``).
    """
    nyquist = spec.sample_rate / 2
    fmax = nyquist if spec.fmax is None else float(spec.fmax)
    return (spec.n_mels >= DENSE_MIN_BANDS and fmax >= 0.99 * nyquist
            and spec.win_length > 2 * spec.hop_length and glide_bins(spec) <= GLIDE_REF)


def dense_tail_iterations(spec: FeatureSpec, roughness_db: float, n_iter: int) -> int:
    """GLA iterations rule h runs after the kept inner (0: it does not act).

    Parameters
    ----------
    spec : FeatureSpec
        The mel's contract.
    roughness_db : float
        The mel's :func:`~melbench.inverters.guarded.band_roughness_db` (dB).
    n_iter : int
        The guard's ``dense_tail_iter``.

    Returns
    -------
    int
        ``n_iter`` where :func:`dense_full_band` holds and ``roughness_db`` is at most
        :data:`DENSE_TAIL_ROUGH_DB`, else 0.
    """
    if n_iter <= 0 or not dense_full_band(spec) or not roughness_db <= DENSE_TAIL_ROUGH_DB:
        return 0
    return int(n_iter)


def dense_tail(x: np.ndarray, magnitude: np.ndarray, spec: FeatureSpec, roughness_db: float,
               n_iter: int, record: dict[str, Any]) -> np.ndarray:
    """Rule h: ``x`` after :func:`dense_tail_iterations` GLA iterations on ``magnitude``.

    Parameters
    ----------
    x : np.ndarray [shape=(n_freq, frames)], complex
        The kept inner's complex estimate (its phase is the warm start).
    magnitude : np.ndarray [shape=(n_freq, frames)]
        The kept inner's (blended) magnitude.
    spec, roughness_db, n_iter
        As for :func:`dense_tail_iterations`.
    record : dict
        The guard's record: ``"dense_tail"`` is set to the iterations run.

    Returns
    -------
    np.ndarray [shape=(n_freq, frames)], complex
        ``x`` itself when the rule does not act, else Griffin-Lim's output
        (:func:`melbench.phase.projections.gla`, D. Griffin and J. Lim, IEEE Trans. ASSP
        32(2), 1984) from ``x``.
    """
    k = dense_tail_iterations(spec, roughness_db, n_iter)
    record["dense_tail"] = k
    if k == 0:
        return x
    from ..phase.projections import gla

    return gla(magnitude, spec, n_iter=k, init=x)
