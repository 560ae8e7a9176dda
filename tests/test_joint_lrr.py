"""``joint_lrr`` and round 7's options: the compiled low-rank solver against numpy's SVD,
the restart's averaging rebuilt from ``joint_fgla_inverse``, defaults unchanged (its mel: test_joint_fgla)."""

from __future__ import annotations

import numpy as np
import pytest

from melbench import registry
from melbench.errors import ParameterError
from melbench.inverters.guarded import ITERATION_COUNTERS
from melbench.inverters.joint_continuity import (
    _k_lowrank_pull,
    _window_starts,
    continuity_magnitude,
    joint_tc_inverse,
)
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.inverters.joint_restart import restart
from melbench.spec import FeatureSpec
from melbench.testing import conformance_signal

SMALL = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                    pad_mode="constant", name="small16k")
SMALL_POWER = FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0,
                          power=2, pad_mode="reflect", name="small16k-power")


def _mel(spec, seconds=0.5):
    return spec.mel_from_magnitude(spec.magnitude(conformance_signal(spec.sample_rate, seconds=seconds)))


def _svd_blend(a, r, frames):
    """Independent reference: truncated SVD per half-overlapping window, Hann-blended, clipped at 0."""
    n = a.shape[0]
    if n <= frames:
        u, s, vt = np.linalg.svd(a.astype(np.float64), full_matrices=False)
        return np.maximum((u[:, :r] * s[:r]) @ vt[:r], 0)
    starts = list(range(0, n - frames + 1, frames // 2))
    if starts[-1] + frames < n:
        starts.append(n - frames)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1, frames + 1) / (frames + 1))
    num, den = np.zeros(a.shape), np.zeros(n)
    for s0 in starts:
        u, s, vt = np.linalg.svd(a[s0:s0 + frames].astype(np.float64), full_matrices=False)
        num[s0:s0 + frames] += w[:, None] * ((u[:, :r] * s[:r]) @ vt[:r])
        den[s0:s0 + frames] += w
    return np.maximum(num / den[:, None], 0)


def _pull_power(t, weight, rank, frames, n_bins, state=None, gate=0.0):
    starts, length = _window_starts(t.shape[0], frames)
    nb = min(t.shape[1], n_bins)
    if state is None:
        state = [np.zeros((len(starts), nb, min(rank, nb))), np.zeros(len(starts), np.bool_)]
    its = _k_lowrank_pull(t, weight, n_bins, starts, length, *state, 1e-14, 500, gate)
    return its, state


@pytest.mark.parametrize(("n", "nb", "rank", "frames"), [(75, 7, 2, 16), (20, 9, 3, 32), (130, 17, 1, 32)])
def test_power_solver_is_the_truncated_svd_blend(n, nb, rank, frames):
    rng = np.random.default_rng(n)
    a = rng.uniform(0.1, 1.0, size=(n, nb + 5))
    t = (a * np.exp(1j * rng.uniform(-np.pi, np.pi, a.shape))).astype(np.complex64)
    weight = 0.4
    low = _svd_blend(np.abs(t[:, :nb]).astype(np.float64), rank, frames)
    want = t.copy()
    mag = np.abs(t[:, :nb]).astype(np.float64)
    want[:, :nb] = t[:, :nb] * ((1 - weight) * mag + weight * low) / mag
    got = t.copy()
    _pull_power(got, weight, rank, frames, nb)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    np.testing.assert_array_equal(got[:, nb:], t[:, nb:])  # bins above n_bins untouched


def test_power_solver_warm_start_converges_in_few_iterations_to_the_same_result():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 1.0, size=(100, 17))
    t = (a * np.exp(1j * rng.uniform(-np.pi, np.pi, a.shape))).astype(np.complex64)
    cold, state = _pull_power(t.copy(), 0.25, 2, 32, 17)
    again = t.copy()
    its, _ = _pull_power(again, 0.25, 2, 32, 17, state)  # same input, warm bases
    n_win = len(_window_starts(100, 32)[0])
    assert cold > 3 * n_win and its <= 2 * n_win
    fresh = t.copy()
    _pull_power(fresh, 0.25, 2, 32, 17)
    np.testing.assert_allclose(again, fresh, rtol=1e-5, atol=1e-6)


def test_power_solver_keeps_a_low_rank_magnitude_and_zero_bins():
    rng = np.random.default_rng(4)
    a = (rng.uniform(0, 1, (90, 2)) @ rng.uniform(0, 1, (2, 12))).astype(np.float32)
    a[:, 5] = 0.0  # an empty bin stays empty
    t = (a * np.exp(1j * rng.uniform(-np.pi, np.pi, a.shape))).astype(np.complex64)
    got = t.copy()
    _pull_power(got, 1.0, 2, 32, 12)
    np.testing.assert_allclose(np.abs(got), a, rtol=1e-4, atol=1e-5)
    assert np.all(got[:, 5] == 0)


def test_the_gate_spares_windows_far_from_low_rank():
    """res = the energy share the rank-r form leaves out (from numpy's singular values);
    weight x clip(2 - 2 res / gate, 0, 1) per window: 0 far from low rank, full weight on it."""
    rng = np.random.default_rng(5)
    low = (rng.uniform(0, 1, (40, 2)) @ rng.uniform(0, 1, (2, 10))).astype(np.float32)
    noisy = rng.uniform(0.1, 1.0, (40, 10)).astype(np.float32)
    mixed = low + 0.05 * noisy

    def residual(a):
        sv = np.linalg.svd(a.astype(np.float64), compute_uv=False) ** 2  # one window (40 <= 64 frames)
        return 1 - sv[:2].sum() / sv.sum()

    # off; on the ramp (om = 2 - 2 / 1.5 = 2/3); full weight
    for a, gate in ((noisy, 0.05), (mixed, 1.5 * residual(mixed)), (low + 0.01 * noisy, 0.2)):
        res = residual(a)
        om = float(np.clip(2 - 2 * res / gate, 0, 1))
        t = (a * np.exp(1j * rng.uniform(-np.pi, np.pi, a.shape))).astype(np.complex64)
        got, plain = t.copy(), t.copy()
        _pull_power(got, 0.5 * om, 2, 64, 10)  # the gate's weight, applied by hand
        _pull_power(plain, 0.5, 2, 64, 10, gate=gate)
        np.testing.assert_allclose(plain, got, rtol=1e-5, atol=1e-6)
        if om == 0:
            np.testing.assert_array_equal(plain, t)
    assert om > 0.5  # the near-low-rank window was pulled, the noisy one (om 0) left alone


def test_power_solver_in_the_iteration_matches_eigh():
    """Two low-rank passes (8 iterations, every 4th): the two solvers agree to float32 rounding."""
    spec = SMALL
    m = _mel(spec)
    kw = dict(n_iter=8, beta=0.0, lowrank=0.5, lowrank_frames=8, lowrank_hz=1000.0, final_steps=0)
    s_e, _ = joint_tc_inverse(m, spec, **kw)
    s_p, _ = joint_tc_inverse(m, spec, lowrank_solver="power", **kw)
    np.testing.assert_allclose(s_p, s_e, rtol=1e-3, atol=1e-5 * s_e.max())
    s_off = joint_tc_inverse(m, spec, **{**kw, "lowrank": 0.0})[0]
    assert np.linalg.norm(s_e - s_off) > 1e-3 * np.linalg.norm(s_e)


def test_min_hz_applies_the_continuity_prior_from_that_bin_only():
    """Rebuilt with the numpy reference form of the prior on bins [ceil(min_hz n_fft / sr), max_hz]."""
    spec = SMALL
    m = _mel(spec)
    lo = int(np.ceil(300.0 * spec.n_fft / spec.sample_rate))
    hi = int(1000.0 * spec.n_fft / spec.sample_rate) + 1

    def prior(it, t):
        a = np.abs(t[:, lo:hi])
        pulled = continuity_magnitude(a.T, 0.3).T
        t[:, lo:hi] *= np.where(a > 1e-30, pulled / np.maximum(a, 1e-30), 1.0).astype(a.dtype)

    want, _ = joint_fgla_inverse(m, spec, n_iter=6, prior=prior)
    got, _ = joint_tc_inverse(m, spec, n_iter=6, beta=0.3, min_hz=300.0)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-5 * want.max())
    full, _ = joint_tc_inverse(m, spec, n_iter=6, beta=0.3)
    assert np.linalg.norm(full - got) > 1e-3 * np.linalg.norm(got)


def test_restart_average_zero_is_todays_joint_tcr():
    spec = SMALL
    m = _mel(spec)
    inv = registry.create("inverter", "joint_tcr", {"joint_iter": 20, "restart_iter": 10})
    assert inv.params.restart_average == 0 and inv.params.lowrank_solver == "eigh"
    s, x = inv.estimate(m, spec)
    s1, x1 = joint_tc_inverse(m, spec, n_iter=20)
    want_s, want_x = joint_fgla_inverse(m, spec, n_iter=10, init=x1)  # today's restart, written out
    np.testing.assert_array_equal(s, want_s)
    np.testing.assert_array_equal(x, want_x)


def test_restart_average_is_the_mean_of_the_restart_iterates():
    """Rebuilt from joint_fgla_inverse: |t| of the restart's last K iterations, then one more iteration."""
    spec = SMALL
    m = _mel(spec)
    _, x0 = joint_tc_inverse(m, spec, n_iter=20)
    n, k = 12, 5
    seen = []

    def record(it, t):
        if it >= n - k:
            seen.append(np.abs(t).T.copy())

    _, x = joint_fgla_inverse(m, spec, n_iter=n, final_steps=0, prior=record, init=x0)
    start = (np.mean(seen, axis=0) * np.exp(1j * np.angle(x))).astype(np.complex64)
    want_s, want_x = joint_fgla_inverse(m, spec, n_iter=1, final_steps=100, init=start)
    s, xo = restart(m, spec, x0, n_iter=n, average_iter=k)
    assert len(seen) == k
    # restart() sums |t| compiled and takes the phase as x / |x|: float32 rounding, which the
    # one iteration and 100 mel steps after it amplify to ~1e-4 relative
    np.testing.assert_allclose(s, want_s, rtol=2e-3, atol=1e-5 * want_s.max())
    np.testing.assert_allclose(xo, want_x, rtol=2e-3, atol=1e-5 * np.abs(want_x).max())
    inv = registry.create("inverter", "joint_tcr",
                          {"joint_iter": 20, "restart_iter": n, "restart_average": k})
    np.testing.assert_allclose(inv.estimate(m, spec)[0], want_s, rtol=2e-3, atol=1e-5 * want_s.max())


def test_joint_lrr_is_joint_lr_then_the_restart():
    spec = SMALL
    m = _mel(spec)
    lrr = registry.create("inverter", "joint_lrr", {"joint_iter": 24, "average_iter": 10, "lowrank_frames": 8,
                                                    "restart_iter": 6, "restart_average": 0})
    p = lrr.params
    d = registry.create("inverter", "joint_lrr", {}).params
    assert (d.beta, d.min_hz, d.lowrank, d.prior_iter, d.average_iter, d.restart_iter, d.restart_average,
            d.lowrank_solver) == (0.25, 100.0, 0.25, 0, 0, 30, 30, "power")
    lr = registry.create("inverter", "joint_lr", {"joint_iter": 24, "average_iter": 10, "lowrank_frames": 8,
                                                  "lowrank_solver": p.lowrank_solver,
                                                  "prior_iter": p.prior_iter, "beta": p.beta,
                                                  "min_hz": p.min_hz})
    _, x_lr = lr.estimate(m, spec)
    want_s, want_x = joint_fgla_inverse(m, spec, n_iter=6, init=x_lr)
    s, x = lrr.estimate(m, spec)
    np.testing.assert_allclose(s, want_s, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x, want_x, rtol=1e-5, atol=1e-6)
    assert ITERATION_COUNTERS["joint_lrr"] == "joint_iter"
    guard = registry.create("inverter", "guarded", {"inner": "joint_lrr", "inner_iter": 20})
    assert guard._inner().params.joint_iter == 20


def test_bad_round7_parameters():
    spec = SMALL
    m = _mel(spec)
    with pytest.raises(ParameterError, match="lowrank_solver='svd': use one of eigh, power"):
        joint_tc_inverse(m, spec, lowrank=0.2, lowrank_solver="svd")
    with pytest.raises(ParameterError, match="lowrank_solver='svd': use one of eigh, power"):
        registry.create("inverter", "joint_lrr", {"lowrank_solver": "svd"}).validate()
    with pytest.raises(ParameterError, match="lowrank_gate=0.1: must be in .0, 1., and > 0 only with"):
        joint_tc_inverse(m, spec, lowrank=0.2, lowrank_gate=0.1)  # the eigh solver has no gate
    with pytest.raises(ParameterError, match="lowrank_gate=2.0: must be in"):
        registry.create("inverter", "joint_lrr", {"lowrank_gate": 2.0}).validate()
    with pytest.raises(ParameterError, match="min_hz=-1.0 must be >= 0"):
        registry.create("inverter", "joint_lrr", {"min_hz": -1.0}).validate()
    with pytest.raises(ParameterError, match="restart_average=-1 must be an integer >= 0"):
        registry.create("inverter", "joint_tcr", {"restart_average": -1}).validate()
