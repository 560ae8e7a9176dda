"""The optimised joint kernels against plain implementations (issue 16, time per clip).

``_k_joint`` (one ``P_mel`` + momentum pass of ``joint_fgla``) is checked against the update
written out in numpy from its documented definition, on random data with every branch the
optimisation special-cases: power 1 and 2, first (no momentum) and not, bins no band
touches inside the covered range (``keep``), bins above ``fmax`` (no band: the steps skip
them), ``dc="nearest"``, zero mel steps, and a frame count that is no multiple of the
kernel's block or of its 8 x 8 transposition tiles. ``Projector``'s compiled padding refill
is checked against ``np.pad``.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melbench.inverters.joint_fgla import _BLOCK, _joint_operators, _k_joint
from melbench.spec import FeatureSpec
from melbench.stft import Projector, get_window

# 8 kHz audio, n_fft 1024, 80 bands up to 3500 Hz: the bins above fmax touch no band (the
# steps skip them). No librosa filterbank leaves a bin inside its covered range untouched
# (adjacent triangles share their edges), so the kept bins are made by zeroing three columns
# of the filterbank in the test (GAP).
KEEP = FeatureSpec(sample_rate=8000, n_fft=1024, hop_length=256, n_mels=80, fmax=3500.0, power=1,
                   pad_mode="constant", name="keep8k")
KEEP_POWER = FeatureSpec(sample_rate=8000, n_fft=1024, hop_length=256, n_mels=80, fmax=3500.0,
                         power=2, pad_mode="reflect", name="keep8k-power")
GAP = slice(40, 43)
N_FRAMES = 2 * _BLOCK + 22  # a short last block; 22 is no multiple of 8


def _reference(t, xprev, mel, basis, n_steps, power, alpha, first, nearest):
    """One pass written from the definition, in float64; ``t``, ``xprev`` (F, T) complex.

    ``W`` is librosa's filterbank normalised per bin (0 where no band reaches), ``keep`` 1
    on the bins between the first and last covered bin that no band touches; with
    ``nearest`` the bins below the first covered one take the first band's ratio
    (``W`` = 1 there). Then ``s = |t|**power``, ``n_steps`` times
    ``s <- s (keep + W^T (mel / M s))`` (ratio 0 where ``M s`` <= 1e-30, ``s`` <= 1e-30 set
    to 0), ``x = s**(1/power) t / |t|``, ``c = x`` (first) or ``x + alpha (x - xprev)``.
    """
    col = basis.sum(axis=0)
    covered = np.flatnonzero(col > 0)
    w = np.where(col > 0, basis / np.where(col > 0, col, 1.0), 0.0)
    if nearest:
        w[np.flatnonzero(basis.sum(axis=1) > 0)[0], : covered[0]] = 1.0
    keep = np.zeros(basis.shape[1])
    keep[covered[0] : covered[-1] + 1] = col[covered[0] : covered[-1] + 1] == 0
    a = np.abs(t)
    s = a**power
    for _ in range(n_steps):
        ms = basis @ s
        ratio = np.where(ms > 1e-30, mel / np.where(ms > 1e-30, ms, 1.0), 0.0)
        s = s * (keep[:, None] + w.T @ ratio)
        s[s <= 1e-30] = 0.0
    mag = s ** (1.0 / power)
    x = t * np.where(a > 1e-30, mag / np.where(a > 1e-30, a, 1.0), 0.0)
    c = x if first else x + alpha * (x - xprev)
    return c, x, s, float(np.sum((a - mag) ** 2)), keep


def _operators(basis, nearest):
    """``(lo, offsets, mw, ww, keep)`` of ``basis`` (n_mels, F), built here from the definition.

    Row ``i`` covers its first to last nonzero bin; ``ww`` is ``basis`` normalised per bin;
    with ``nearest`` the first nonempty row starts at bin 0 with ``ww`` = 1 below the first
    covered bin; ``keep`` is 1 inside the covered range where no band reaches.
    """
    col = basis.sum(axis=0)
    w = np.where(col > 0, basis / np.where(col > 0, col, 1.0), 0.0)
    covered = np.flatnonzero(col > 0)
    lo = np.zeros(len(basis), np.int64)
    hi = np.zeros(len(basis), np.int64)
    for i, row in enumerate(basis):
        nz = np.flatnonzero(row)
        if nz.size:
            lo[i], hi[i] = nz[0], nz[-1] + 1
    if nearest:
        first = np.flatnonzero(hi > lo)[0]
        w[first, : covered[0]] = 1.0
        lo[first] = 0
    keep = np.zeros(basis.shape[1], np.float32)
    keep[covered[0] : covered[-1] + 1] = col[covered[0] : covered[-1] + 1] == 0
    offsets = np.concatenate([[0], np.cumsum(hi - lo)]).astype(np.int64)
    mw = np.concatenate([basis[i, lo[i] : hi[i]] for i in range(len(basis))]).astype(np.float32)
    ww = np.concatenate([w[i, lo[i] : hi[i]] for i in range(len(basis))]).astype(np.float32)
    return lo, offsets, mw, ww, keep


def _data(spec, seed):
    rng = np.random.default_rng(seed)
    shape = (spec.n_freq, N_FRAMES)
    t = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    xprev = (0.7 * rng.standard_normal(shape) + 0.2j).astype(np.complex64)
    basis = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                                fmin=spec.fmin, fmax=spec.fmax, norm="slaney").astype(np.float64)
    basis[:, GAP] = 0.0  # bins inside the covered range that no band touches
    mel = (basis @ (rng.random(shape) ** spec.power)).astype(np.float32)
    return t, xprev, basis, mel


@pytest.mark.parametrize("spec", [KEEP, KEEP_POWER], ids=["magnitude", "power"])
@pytest.mark.parametrize("first", [False, True], ids=["momentum", "first"])
@pytest.mark.parametrize("nearest", [False, True], ids=["dc-zero", "dc-nearest"])
@pytest.mark.parametrize("n_steps", [0, 1, 3])
def test_kernel_equals_the_update_written_in_numpy(spec, first, nearest, n_steps):
    t, xprev, basis, mel = _data(spec, 11 + n_steps)
    want_c, want_x, want_s, want_d, keep = _reference(t.astype(np.complex128), xprev, mel, basis,
                                                      n_steps, spec.power, 0.9, first, nearest)
    assert keep.sum() == 3  # the data exercise the kept bins ...
    assert basis[:, -60:].sum() == 0  # ... and bins above fmax that no band touches
    ops = _operators(basis, nearest)
    np.testing.assert_array_equal(ops[4], keep)
    tt, xx = np.ascontiguousarray(t.T), np.ascontiguousarray(xprev.T)
    a, g, s = (np.empty(tt.shape, np.float32) for _ in range(3))
    d = _k_joint(tt, xx, a, g, *ops, np.ascontiguousarray(mel), n_steps, spec.power,
                 np.float32(0.9), first, s, True, True)
    np.testing.assert_allclose(tt.T, want_c, rtol=0, atol=3e-5 * np.abs(want_c).max())
    np.testing.assert_allclose(xx.T, want_x, rtol=0, atol=3e-5 * np.abs(want_x).max())
    np.testing.assert_allclose(s.T, want_s, rtol=0, atol=3e-5 * want_s.max())
    assert d == pytest.approx(want_d, rel=1e-4)
    if n_steps:  # the bins no band touches end at exactly 0
        assert not np.any(s.T[-60:]) and not np.any(xx.T[-60:])


@pytest.mark.parametrize("nearest", [False, True], ids=["dc-zero", "dc-nearest"])
def test_operators_of_the_test_are_the_inverters(nearest):
    """The test's operator construction equals ``_joint_operators`` on the true filterbank."""
    basis = librosa.filters.mel(sr=KEEP.sample_rate, n_fft=KEEP.n_fft, n_mels=KEEP.n_mels,
                                fmax=KEEP.fmax, norm="slaney").astype(np.float64)
    for mine, theirs in zip(_operators(basis, nearest),
                            _joint_operators(KEEP, np.dtype(np.float32).str, nearest), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("spec", [KEEP, KEEP_POWER], ids=["magnitude", "power"])
def test_steps_in_place_equal_steps_on_a_copy(spec):
    """``final_steps`` run with ``t`` = ``xprev`` (no copy): the same bits as from a copy."""
    t, _, basis, mel = _data(spec, 3)
    ops = _operators(basis, False)
    x = np.ascontiguousarray(t.T)
    bufs = [np.empty(x.shape, np.float32) for _ in range(3)]
    want = x.copy()
    _k_joint(x.copy(), want, *bufs[:2], *ops, mel, 40, spec.power, np.float32(0.9), True, bufs[2],
             True, False)
    s_want = bufs[2].copy()
    _k_joint(x, x, *bufs[:2], *ops, mel, 40, spec.power, np.float32(0.9), True, bufs[2], True, False)
    np.testing.assert_array_equal(x, want)
    np.testing.assert_array_equal(bufs[2], s_want)


@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("framing", ["same", "center"])
@pytest.mark.parametrize("length", [None, 1500, 1000])
def test_compiled_padding_refill_equals_np_pad(mode, framing, length):
    """The refilled signal buffer is ``np.pad`` of the signal part by the padding mode."""
    proj = Projector(n_fft=512, hop_length=128, window=get_window("hann", 512), framing=framing,
                     pad_mode=mode, n_frames=13, length=length)
    assert proj._fill_fast
    rng = np.random.default_rng(5)
    proj._ybuf[:] = rng.standard_normal(proj._ybuf.shape)
    lo, hi, p = proj._lo, proj._hi, proj.pad
    want = np.zeros_like(proj._ybuf)
    padded = np.pad(proj._ybuf[:, lo:hi], ((0, 0), (p, p)), mode=mode)
    m = min(proj.n_covered, hi + p)
    want[:, :m] = padded[:, :m]
    proj._fill_padding()
    np.testing.assert_array_equal(proj._ybuf, want)


def test_short_signal_padding_takes_the_numpy_path():
    """A signal shorter than the padding (the reflection repeats) is left to ``np.pad``."""
    proj = Projector(n_fft=512, hop_length=128, window=get_window("hann", 512), framing="center",
                     pad_mode="reflect", n_frames=2, length=100)
    assert not proj._fill_fast
    proj._ybuf[:] = np.random.default_rng(1).standard_normal(proj._ybuf.shape)
    lo, hi, p = proj._lo, proj._hi, proj.pad
    want = proj._ybuf.copy()
    padded = np.pad(want[:, lo:hi], ((0, 0), (p, p)), mode="reflect")
    m = min(proj.n_covered, hi + p)
    want[:, :m] = padded[:, :m]
    want[:, m:] = 0
    proj._fill_padding()
    np.testing.assert_array_equal(proj._ybuf, want)


def test_handoff_steps_end_the_first_run_only():
    """``handoff_steps`` replaces ``final_steps`` at the end of ``joint_tc``, not of the restart."""
    from melbench.errors import ParameterError
    from melbench.inverters.joint_continuity import joint_tc_inverse
    from melbench.inverters.joint_fgla import joint_fgla_inverse
    from melbench.inverters.joint_restart import joint_tcr_inverse
    from melbench.testing import conformance_signal

    spec = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0,
                       power=1, pad_mode="constant", name="small16k")
    y = conformance_signal(spec.sample_rate, seconds=0.5)
    m = spec.mel_from_magnitude(spec.magnitude(y))
    kw = dict(n_iter=12, prior_iter=8, final_steps=20)
    _, x1 = joint_tc_inverse(m, spec, **kw | {"final_steps": 3})
    want_s, want_x = joint_fgla_inverse(m, spec, n_iter=5, final_steps=20, init=x1)
    s, x = joint_tcr_inverse(m, spec, restart_iter=5, handoff_steps=3, **kw)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(s, want_s)
    # None is today's behaviour (final_steps at both ends), and it differs from 3 steps
    s_none, x_none = joint_tcr_inverse(m, spec, restart_iter=5, **kw)
    s_same, x_same = joint_tcr_inverse(m, spec, restart_iter=5, handoff_steps=20, **kw)
    np.testing.assert_array_equal(x_none, x_same)
    assert np.abs(x_none - x).max() > 1e-4 * np.abs(x).max()
    # without a restart the first run's end is the output: final_steps applies
    np.testing.assert_array_equal(joint_tcr_inverse(m, spec, restart_iter=0, handoff_steps=0, **kw)[1],
                                  joint_tc_inverse(m, spec, **kw)[1])
    with pytest.raises(ParameterError, match="handoff_steps=-1 must be a non-negative integer"):
        joint_tcr_inverse(m, spec, handoff_steps=-1)
