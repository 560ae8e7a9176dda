"""Rule g of ``guarded`` at low redundancy: the kept inner's phase is re-estimated from its magnitude.

At a framing of low redundancy (``win_length / hop_length`` at most 2: torchaudio's 400 /
200, 50 % overlap) the mel nearly fixes the magnitude (65 of torchaudio's 128 bands cover
fewer than three FFT bins) and the ``nnls`` magnitude is already close to the truth, but the
joint inner method's complex estimate is far from consistent and its phase costs PESQ. So
where the guard keeps the inner there (:mod:`melbench.inverters.guarded`, rule g):

1. the magnitude is ``A = (1 - mix) B + mix |X_0|``, ``B`` the inner's magnitude after rule
   d's blend and ``|X_0|`` the ``nnls`` magnitude (``mix`` = 0.5);
2. its phase starts from PGHI on ``A`` (phase-gradient heap integration, no iteration) and
   ``n_iter`` (64) FGLA iterations follow with ``A`` held: the inner's phase is not used;
3. rule c keeps the fallback when its audio fits the mel better than either the inner's own
   estimate or this one (the worse of the two ``mel_sc``; ``fit_db`` applies to it too),
   without the probe (its bounds were measured at redundancy 4; here the fallback's
   ``mel_sc`` still fell by up to 13.7 dB after its 50th iteration);
4. the inner runs half its iterations (``tail_iter_scale`` = 0.5): its magnitude is what is kept,
   and at 100 joint iterations it serves as well (measured below), which pays for steps 2-3.

Measured on the evaluation suite at torchaudio (209 clips; the candidates cached and replayed,
chosen on the even-index clips, reported on the odd ones: ``results/torchaudio_round9.md``),
against round 8's rule g: speech rows over issue 16's bounds against ``nnls`` + ``fgla:100``
on the even half 11 -> 3 (clean) and 11 -> 2 (quant6), on the odd half 12 -> 5 and 9 -> 3,
noise20 1 -> 0 on each; music 1 -> 1 and 1 -> 0 (even), 0 -> 0 and 2 -> 0 (odd); odd-half mean
speech PESQ-wb 3.399 -> 3.488 (clean), 3.107 -> 3.185 (quant6).

References
----------
.. [1] Z. Prusa, P. Balazs and P. L. Sondergaard, "A noniterative method for
   reconstruction of phase from STFT magnitude," IEEE/ACM TASLP 25(5), 2017 (PGHI).
.. [2] N. Perraudin, P. Balazs and P. L. Sondergaard, "A fast Griffin-Lim algorithm,"
   WASPAA 2013.
"""

from __future__ import annotations

import numpy as np

from ..spec import FeatureSpec


def low_redundancy(spec: FeatureSpec, limit: float) -> bool:
    """True where ``win_length / hop_length`` is at most ``limit`` (0 turns the rule off)."""
    return float(limit) > 0 and spec.win_length <= float(limit) * spec.hop_length


def scaled_iterations(n_iter: int, scale: float) -> int:
    """The inner's iterations at low redundancy: ``round(n_iter * scale)``, at least 1 (0 stays 0).

    Parameters
    ----------
    n_iter : int
        The cell's iteration count (0: the inner's own default, left as it is).
    scale : float
        In (0, 1]; 1 keeps ``n_iter``.

    Returns
    -------
    int
    """
    return 0 if int(n_iter) == 0 else max(1, int(round(int(n_iter) * float(scale))))


def overlap_estimate(mag1: np.ndarray, mag0: np.ndarray, spec: FeatureSpec, *, mix: float = 0.5,
                     n_iter: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The kept inner's estimate at low redundancy: mixed magnitude, PGHI start, FGLA.

    Parameters
    ----------
    mag1 : np.ndarray [shape=(n_freq, frames)]
        The inner's magnitude after rule d's blend (linear).
    mag0 : np.ndarray [shape=(n_freq, frames)]
        The ``nnls`` magnitude.
    spec : FeatureSpec
        The framing (window, hop) the estimate is made consistent with.
    mix : float
        Weight of ``mag0`` in [0, 1].
    n_iter : int
        FGLA iterations from the PGHI start (0: the PGHI phase on the mixed magnitude).
    seed : int
        Seed of PGHI's random phase for the coefficients below its tolerance (the estimate is
        reproducible only with it).

    Returns
    -------
    magnitude : np.ndarray [shape=(n_freq, frames)]
        ``(1 - mix) mag1 + mix mag0``, in ``mag1``'s dtype.
    x : np.ndarray [shape=(n_freq, frames)]
        Complex estimate with that magnitude.
    """
    from ..phase.pghi import pghi
    from ..phase.projections import fgla

    m = np.float32(mix)
    mag = ((1 - m) * mag1 + m * np.asarray(mag0, dtype=mag1.dtype)).astype(mag1.dtype, copy=False)
    x = pghi(mag, spec, rng=int(seed))
    if int(n_iter) > 0:
        x = fgla(mag, spec, n_iter=int(n_iter), init=x)
    return mag, x
