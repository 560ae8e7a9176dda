"""Phase gradient heap integration (PGHI; Prusa, Balazs & Sondergaard, IEEE/ACM TASLP 2017).

For a Gaussian window ``g(l) = exp(-pi l^2 / gamma)`` (``l`` in samples) the phase of
the STFT is determined by its log-magnitude ``ls``. In the window-centred phase
convention, per hop ``a`` in time and per bin in frequency (``N`` = n_fft)::

    dphi_t[n, m] = (a N / gamma) (ls[n+1, m] - ls[n-1, m]) / 2 + 2 pi a n / N
    dphi_w[n, m] = -(gamma / (a N)) (ls[n, m+1] - ls[n, m-1]) / 2

(derivation: a stationary sinusoid has ``d phi/d tau = omega0`` and a log-magnitude
parabola in frequency of curvature ``-gamma / (4 pi)``; an impulse has
``d phi / d omega = -(t0 - tau)`` and a log-magnitude parabola in time). Other windows
use the ``gamma`` of the Gaussian that fits them best, ``gamma = C_g * win_length^2``
(table :data:`CG`, fitted by :func:`fit_cg` for windows not in it).

The phase is then integrated from the largest coefficients outwards with a max-heap
(trapezoidal rule along the four neighbours), in passes of decreasing relative tolerance;
coefficients below the last tolerance get a seeded random phase. Finally the phase is
converted to melbench's convention (phase relative to the frame start, window centred
in the frame): ``phi_start[k] = phi_centred[k] - 2 pi k c / N`` with ``c`` the window
centre, i.e. a factor ``(-1)^k`` for full-length windows and even ``n_fft``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit

from .. import stft as _stft
from ..errors import ParameterError
from ..plugin import PhaseRetriever
from ..spec import FeatureSpec
from ._local import centred_to_frame_start
from .helpers import phase_function

#: ``C_g`` of PGHI's ``gamma = C_g * win_length^2`` (LTFAT/phaseret ``pghi_findgamma``);
#: melbench's "gaussian" window is ``exp(-pi l^2 / (C_g W^2))`` by construction.
CG: dict[str, float] = {
    "hann": 0.25645,
    "sqrt_hann": 0.41532,
    "hamming": 0.29794,
    "blackman": 0.17954,
    "gaussian": _stft.GAUSS_CG,
}


def fit_cg(window: np.ndarray) -> float:
    """Fit ``C_g`` of a window: the Gaussian of best shape, as LTFAT's ``pghi_findgamma``.

    Procedure: ``gl`` = the window's width at relative height ``1e-10`` (its support);
    for each height ``h`` in ``0.01, 0.011, ..., 0.8``, the Gaussian with the window's
    width ``w_h`` at height ``h`` (``gamma_h = -pi w_h^2 / (4 ln h)``) is compared with
    the normalised window, zero-extended to ten times its length (so the Gaussian's tails
    beyond the support count as error); the best ``h`` gives
    ``C_g = -(pi / 4) (w_h / (gl - 1))^2 / ln h``.

    Parameters
    ----------
    window : np.ndarray [shape=(n,)]
        Samples of a unimodal, symmetric window (zero padding is ignored).

    Returns
    -------
    float
        The window constant ``C_g``.
    """
    g = np.asarray(window, dtype=np.float64)
    nz = np.flatnonzero(g > 0)
    if nz.size < 3:
        raise ParameterError("cannot fit a Gaussian to a window with fewer than 3 non-zero samples")
    g = g[nz[0] : nz[-1] + 1]
    g = g / g.max()
    peak = int(np.argmax(g))
    centre = (g.size - 1) / 2.0 if np.allclose(g, g[::-1]) else float(peak)
    ext = 10 * g.size
    off = (ext - g.size) // 2
    g_ext = np.zeros(ext)
    g_ext[off : off + g.size] = g
    t = np.arange(ext) - off - centre

    def width(h: float) -> float:
        # linear interpolation of the crossings of level h on each side of the peak
        left = g[: peak + 1]
        right = g[peak:]
        i = np.flatnonzero(left < h)
        if i.size:
            j = i[-1]
            xl = j + (h - left[j]) / (left[j + 1] - left[j])
        else:
            xl = -0.5
        i = np.flatnonzero(right < h)
        if i.size:
            j = i[0]
            xr = peak + j - 1 + (right[j - 1] - h) / (right[j - 1] - right[j])
        else:
            xr = g.size - 0.5
        return float(xr - xl)

    gl = width(1e-10)
    heights = np.arange(0.01, 0.8 + 1e-9, 0.001)
    widths = np.array([width(h) for h in heights])
    gammas = -np.pi * widths**2 / (4.0 * np.log(heights))
    errs = np.empty(heights.size)
    t2 = -np.pi * t * t
    for i in range(0, heights.size, 64):  # vectorised in chunks of heights
        gs = np.exp(t2[None, :] / gammas[i : i + 64, None])
        errs[i : i + 64] = np.linalg.norm(g_ext[None, :] - gs, axis=1)
    best = int(np.argmin(errs))
    h, w = float(heights[best]), float(widths[best])
    return float(-(np.pi / 4.0) * (w / (gl - 1.0)) ** 2 / np.log(h))


@functools.lru_cache(maxsize=32)
def _fitted_cg(window: str, win_length: int) -> float:
    """:func:`fit_cg` of a named window (cached: the fit costs milliseconds per call)."""
    return fit_cg(_stft.get_window(window, win_length))


def window_gamma(spec: FeatureSpec, cg: float | None = None) -> float:
    """PGHI's ``gamma`` (samples^2) for the spec's window: ``C_g * win_length^2``.

    Parameters
    ----------
    spec : FeatureSpec
        Gives the window and its length.
    cg : float, optional
        Window constant; default the table :data:`CG`, or a fit (:func:`fit_cg`).

    Returns
    -------
    float
        ``gamma`` in samples squared.
    """
    if cg is None:
        cg = CG.get(spec.window)
        if cg is None:
            cg = _fitted_cg(spec.window, spec.win_length)
    return float(cg) * spec.win_length**2


def phase_gradients(
    magnitude: np.ndarray, gamma: float, hop_length: int, n_fft: int, floor: float = 1e-14
) -> tuple[np.ndarray, np.ndarray]:
    """Window-centred phase derivatives from the log-magnitude (module docstring).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(n_freq, frames)]
        Linear magnitude.
    gamma : float
        Gaussian parameter of the window (samples^2).
    hop_length, n_fft : int
        Hop ``a`` and FFT size ``N``.
    floor : float
        Relative floor of the magnitude before the log.

    Returns
    -------
    dphi_t : np.ndarray [shape=(n_freq, frames)]
        Phase advance per hop (radians).
    dphi_w : np.ndarray [shape=(n_freq, frames)]
        Phase change per bin (radians).

    References
    ----------
    .. [1] Z. Průša, P. Balazs and P. L. Søndergaard, "A noniterative method for reconstruction
       of phase from STFT magnitude," IEEE/ACM Trans. Audio, Speech, and Language Processing
       25(5):1154-1164, 2017 (Eqs. for the Gaussian window's phase derivatives).
    """
    s = np.asarray(magnitude, dtype=np.float64)
    ls = np.log(np.maximum(s, floor * max(float(s.max()), 1e-300)))
    a, n = float(hop_length), float(n_fft)
    nfreq, frames = s.shape
    dls_w = np.zeros_like(ls)
    if nfreq > 2:
        dls_w[1:-1] = (ls[2:] - ls[:-2]) / 2.0  # zero at DC and Nyquist
    dls_t = np.zeros_like(ls)
    if frames > 1:
        dls_t[:, 1:-1] = (ls[:, 2:] - ls[:, :-2]) / 2.0
        dls_t[:, 0] = ls[:, 1] - ls[:, 0]
        dls_t[:, -1] = ls[:, -1] - ls[:, -2]
    k = np.arange(nfreq, dtype=np.float64)[:, None]
    dphi_t = (a * n / gamma) * dls_w + 2.0 * np.pi * a * k / n
    dphi_w = -(gamma / (a * n)) * dls_t
    return dphi_t, dphi_w


# --------------------------------------------------------------------------- heap (numba)


@njit(cache=True, inline="always")
def _push(hkey, hidx, size, k, idx):
    """Push ``idx`` with key ``k`` on the max-heap (keys stored beside the indices)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if hkey[parent] >= k:
            break
        hkey[i] = hkey[parent]
        hidx[i] = hidx[parent]
        i = parent
    hkey[i] = k
    hidx[i] = idx
    return size + 1


@njit(cache=True, inline="always")
def _pop(hkey, hidx, size):
    """Pop the index with the largest key; returns (index, new size)."""
    top = hidx[0]
    size -= 1
    k = hkey[size]
    idx = hidx[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and hkey[child + 1] > hkey[child]:
            child += 1
        if k >= hkey[child]:
            break
        hkey[i] = hkey[child]
        hidx[i] = hidx[child]
        i = child
    if size > 0:
        hkey[i] = k
        hidx[i] = idx
    return top, size


@njit(cache=True)
def _heap_integrate(key, mask, done, phase, dphi_t, dphi_w, order):
    """Integrate the phase over the significant bins, largest first.

    ``key``, ``mask``, ``done``, ``phase``, ``dphi_t``, ``dphi_w`` are flat arrays over a
    (n_freq, frames) grid (C order: index = n * frames + m); ``order`` lists the flat
    indices by decreasing ``key`` (restart points). Bins already ``done`` are known
    phases: those bordering unknown significant bins seed the heap.
    """
    total = key.size
    hkey = np.empty(total)
    hidx = np.empty(total, dtype=np.int64)
    size = 0
    frames = dphi_t.shape[1]
    nfreq = dphi_t.shape[0]
    tf = dphi_t.ravel()
    wf = dphi_w.ravel()
    for idx in range(total):  # seeds from earlier passes
        if done[idx]:
            n = idx // frames
            m = idx - n * frames
            border = False
            if m + 1 < frames and mask[idx + 1] and not done[idx + 1]:
                border = True
            if m > 0 and mask[idx - 1] and not done[idx - 1]:
                border = True
            if n + 1 < nfreq and mask[idx + frames] and not done[idx + frames]:
                border = True
            if n > 0 and mask[idx - frames] and not done[idx - frames]:
                border = True
            if border:
                size = _push(hkey, hidx, size, key[idx], idx)
    ptr = 0
    while True:
        if size == 0:
            while ptr < total and (done[order[ptr]] or not mask[order[ptr]]):
                ptr += 1
            if ptr >= total:
                break
            start = order[ptr]
            done[start] = True
            phase[start] = 0.0
            size = _push(hkey, hidx, size, key[start], start)
        idx, size = _pop(hkey, hidx, size)
        n = idx // frames
        m = idx - n * frames
        # time neighbours: trapezoid of the per-hop advance
        if m + 1 < frames:
            j = idx + 1
            if mask[j] and not done[j]:
                phase[j] = phase[idx] + 0.5 * (tf[idx] + tf[j])
                done[j] = True
                size = _push(hkey, hidx, size, key[j], j)
        if m > 0:
            j = idx - 1
            if mask[j] and not done[j]:
                phase[j] = phase[idx] - 0.5 * (tf[idx] + tf[j])
                done[j] = True
                size = _push(hkey, hidx, size, key[j], j)
        # frequency neighbours: trapezoid of the per-bin change
        if n + 1 < nfreq:
            j = idx + frames
            if mask[j] and not done[j]:
                phase[j] = phase[idx] + 0.5 * (wf[idx] + wf[j])
                done[j] = True
                size = _push(hkey, hidx, size, key[j], j)
        if n > 0:
            j = idx - frames
            if mask[j] and not done[j]:
                phase[j] = phase[idx] - 0.5 * (wf[idx] + wf[j])
                done[j] = True
                size = _push(hkey, hidx, size, key[j], j)


def pghi_phase(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    gamma: float | None = None,
    tol: tuple[float, ...] = (0.1, 1e-10),
    rng: np.random.Generator | None = None,
    centred: bool = False,
) -> np.ndarray:
    """PGHI phase of one ``(n_freq, frames)`` magnitude: the building block of :func:`pghi`.

    Returns phases, not a spectrogram (and takes one 2-D magnitude): use :func:`pghi`
    for the phase-function contract.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(n_freq, frames)]
        Linear magnitude.
    spec : FeatureSpec
        STFT contract (window, hop, n_fft).
    gamma : float, optional
        Window's Gaussian parameter (samples^2); default :func:`window_gamma`.
    tol : sequence of float
        Decreasing relative tolerances: pass ``i`` integrates bins with
        ``magnitude > tol[i] * max(magnitude)``, starting from the bins already known.
    rng : np.random.Generator, optional
        Random phase for the bins below the last tolerance (zero phase if None).
    centred : bool
        Return the window-centred phase instead of melbench's frame-start phase.

    Returns
    -------
    np.ndarray [shape=(n_freq, frames)]
        Phase in radians (float64).

    References
    ----------
    .. [1] Z. Průša, P. Balazs and P. L. Søndergaard, "A noniterative method for reconstruction
       of phase from STFT magnitude," IEEE/ACM Trans. Audio, Speech, and Language Processing
       25(5):1154-1164, 2017.
    """
    s = np.asarray(magnitude, dtype=np.float64)
    gamma = window_gamma(spec) if gamma is None else float(gamma)
    dphi_t, dphi_w = phase_gradients(s, gamma, spec.hop_length, spec.n_fft)
    key = np.log(np.maximum(s, 1e-300)).ravel()
    order = np.argsort(-key).astype(np.int64)  # introsort: deterministic, 3x faster
    done = np.zeros(s.size, dtype=np.bool_)
    phase = np.zeros(s.size)
    smax = float(s.max()) if s.size else 0.0
    if smax > 0:
        for t in tol:
            mask = (s > t * smax).ravel()
            _heap_integrate(key, mask, done, phase, dphi_t, dphi_w, order)
    if rng is not None:
        rand = rng.uniform(-np.pi, np.pi, size=s.size)
        phase = np.where(done, phase, rand)
    phase = phase.reshape(s.shape)
    if not centred:
        phase = phase + centred_to_frame_start(spec)[:, None]
    return phase


def check_tol(tol) -> tuple[float, ...]:
    """Validate PGHI's relative tolerances: non-empty, each in (0, 1).

    Parameters
    ----------
    tol : sequence of float
        Tolerances of the integration passes.

    Returns
    -------
    tuple of float
    """
    try:
        tol = tuple(float(t) for t in tol)
    except TypeError:
        raise ParameterError(f"pghi tol={tol!r}: give a list of relative tolerances, e.g. "
                             "[0.1, 1e-10]") from None
    if not tol:
        raise ParameterError("pghi tol is empty; give at least one relative tolerance")
    for t in tol:
        if not 0 < t < 1:
            raise ParameterError(f"pghi tol={list(tol)}: each tolerance must be in (0, 1)")
    return tol


@phase_function(batched=False)
def pghi(
    magnitude: np.ndarray,
    spec: FeatureSpec,
    *,
    init: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    trace: list | None = None,
    tol: tuple[float, ...] | list[float] = (0.1, 1e-10),
    cg: float | None = None,
) -> np.ndarray:
    """Phase gradient heap integration: the phase from the magnitude alone, no iteration.

    The phase derivatives follow from the log-magnitude of the STFT of a Gaussian
    window (module docstring); they are integrated from the largest coefficients
    outwards (:func:`pghi_phase`). Leading batch axes are processed item by item
    (:func:`~melbench.phase.helpers.phase_function`, ``batched=False``).

    Parameters
    ----------
    magnitude : np.ndarray [shape=(..., n_freq, frames)]
        Linear magnitude (non-negative, finite).
    spec : FeatureSpec
        STFT contract (window, hop, n_fft).
    init : np.ndarray [shape=(..., n_freq, frames)], optional
        Ignored: PGHI needs no start (the plugin declares ``warm_start = False``).
    rng : Generator or int, optional
        Source of the random phase of the coefficients below the last tolerance.
    trace : list, optional
        Not written (nothing iterates); ``chain`` records the SC of the output.
    tol : sequence of float
        Decreasing relative tolerances of the integration passes, each in (0, 1).
    cg : float, optional
        Window constant ``C_g`` (``gamma = C_g * win_length^2``); default the table
        value for the spec's window or a fit (:func:`window_gamma`).

    Returns
    -------
    np.ndarray [shape=(..., n_freq, frames)]
        ``magnitude * exp(i phi_PGHI)``, complex64 for float32 input.

    Raises
    ------
    InputError
        Bad magnitude (:func:`~melbench.phase.helpers.check_phase_input`).
    ParameterError
        Bad ``tol`` or ``cg``.

    References
    ----------
    .. [1] Z. Průša, P. Balazs and P. L. Søndergaard, "A noniterative method for reconstruction
       of phase from STFT magnitude," IEEE/ACM Trans. Audio, Speech, and Language Processing
       25(5):1154-1164, 2017.
    """
    tol = check_tol(tol)
    if cg is not None and not cg > 0:
        raise ParameterError(f"pghi cg={cg}: must be > 0")
    ph = pghi_phase(magnitude, spec, gamma=window_gamma(spec, cg), tol=tol, rng=rng)
    return np.asarray(magnitude, dtype=np.float64) * np.exp(1j * ph)


class PGHI(PhaseRetriever):
    """Phase gradient heap integration: non-iterative, from the magnitude alone.

    A warm start is ignored (PGHI needs none); use ``phase=chain`` to refine PGHI's
    output with an iterative method. Leading batch axes are processed item by item.

    References
    ----------
    .. [1] Z. Průša, P. Balazs and P. L. Søndergaard, "A noniterative method for reconstruction
       of phase from STFT magnitude," IEEE/ACM Trans. Audio, Speech, and Language Processing
       25(5):1154-1164, 2017.
    """

    name: ClassVar[str] = "pghi"
    warm_start: ClassVar[bool] = False
    counts_ffts: ClassVar[bool] = True
    iterations_param: ClassVar[str | None] = None

    @dataclass
    class Params:
        """Parameters of PGHI.

        Attributes
        ----------
        tol : list of float
            Decreasing relative tolerances of the integration passes: pass ``i``
            integrates coefficients above ``tol[i] * max``; the first (coarse) pass keeps
            the integration paths on strong components, later passes fill in from them
            (LTFAT's default ``[0.1, 1e-10]``). Coefficients below the last one get a
            seeded random phase.
        cg : float, optional
            Override the window constant ``C_g`` (``gamma = C_g * win_length^2``); by
            default the table value for the spec's window, or a fit for other windows.
        """

        tol: list[float] = field(default_factory=lambda: [0.1, 1e-10])
        cg: float | None = None

    def validate(self) -> None:
        """Check that the tolerances are in (0, 1) and ``cg > 0``."""
        check_tol(self.params.tol)
        if self.params.cg is not None and not self.params.cg > 0:
            raise ParameterError(f"pghi cg={self.params.cg}: must be > 0")

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        """Run :func:`pghi` (a warm start is ignored)."""
        return pghi(magnitude, spec, rng=rng, trace=trace, tol=self.params.tol, cg=self.params.cg)
