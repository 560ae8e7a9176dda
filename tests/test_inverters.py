"""Mel -> magnitude inverters: every input domain, batch axes, bad-domain messages, NNLS.

References are independent of the code under test: ``scipy.optimize.nnls``,
``numpy.linalg.pinv`` and identities (KKT conditions, a flat spectrum).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from melbench import registry
from melbench.errors import InputError, ParameterError
from melbench.inverters.nnls import mel_nnls_inverse, nnls_projected_gradient, nnls_solve
from melbench.inverters.nnls_consistent import mel_consistent_inverse, mel_ratio_steps
from melbench.metrics.spectral import spectral_convergence_db
from melbench.spec import get_spec
from melbench.validation import EmptyMelBandWarning, MelDomainWarning, check_mel, empty_mel_bands

SPEC = get_spec("speech16k")
#: a small spec so that exhaustive domain checks stay fast
SMALL = get_spec("speech16k", n_fft=256, win_length=256, hop_length=64, n_mels=24)
DOMAINS = [(p, c) for p in (1, 2) for c in ("none", "ln", "log10", "db")]
INVERTERS = ["transpose", "pinv", "nnls", "nnls_consistent"]


@functools.lru_cache(maxsize=1)
def _speech() -> tuple[np.ndarray, np.ndarray]:
    """Bundled arctic speech at speech16k: (true magnitude, linear magnitude mel)."""
    from melbench.datasets.bundled import Bundled

    clip = next(Bundled(ids=["cmu_arctic_a0007"]).clips(SPEC))
    mag = SPEC.magnitude(clip.audio).astype(np.float32)
    return mag, SPEC.mel_from_magnitude(mag, compress=False)


def _objective(basis: np.ndarray, x: np.ndarray, mel: np.ndarray) -> float:
    r = basis.astype(np.float64) @ x.astype(np.float64) - mel.astype(np.float64)
    return float(np.sum(r * r))


# ------------------------------------------------------------------------ every domain


@pytest.mark.parametrize("name", INVERTERS)
@pytest.mark.parametrize(("power", "compression"), DOMAINS)
def test_every_domain_gives_the_linear_domain_answer(name, power, compression, rng):
    """Compressed input = the linear-domain solve, returned as magnitude, with batch axes."""
    spec = SMALL.replace(power=power, compression=compression, floor=1e-8)
    audio = rng.standard_normal((2, 3, 1600)).astype(np.float32)
    mag = spec.magnitude(audio)
    mel = spec.mel_from_magnitude(mag)  # compressed as the spec says
    inv = registry.create("inverter", name)
    out = inv(mel, spec)
    assert out.shape == mag.shape and out.dtype == np.float32
    assert np.all(out >= 0) and np.all(np.isfinite(out))
    # independent route: the linear-domain mel, solved with the same operator by hand
    basis = spec.mel_basis(np.float64)
    lin = spec.mel_from_magnitude(mag.astype(np.float64), compress=False)
    lin = np.maximum(lin, spec.floor) if compression != "none" else lin
    if name == "pinv":
        ref = np.maximum(np.linalg.pinv(basis) @ lin, 0)
    elif name == "transpose":
        gain = basis.T @ basis.sum(axis=1)
        ref = (basis.T @ lin) / np.where(gain > 0, gain, 1)[:, None]
    else:
        ref = None
    if ref is not None:
        ref = np.sqrt(ref) if power == 2 else ref
        np.testing.assert_allclose(out, ref, rtol=2e-3, atol=2e-4 * float(ref.max()))
    # every inverter's output reproduces the mel better than the mel's own scale
    domain_out = out.astype(np.float64) ** power
    rel = np.linalg.norm(basis @ domain_out - lin) / np.linalg.norm(lin)
    assert rel < (1.0 if name == "transpose" else 0.5)
    # each batch item equals its own solve (leading axes are just a batch)
    single = inv(mel[1, 2], spec)
    np.testing.assert_allclose(out[1, 2], single, rtol=1e-3, atol=1e-4 * float(single.max()))


@pytest.mark.parametrize("name", INVERTERS)
def test_float64_in_float64_out_and_deterministic(name, rng):
    mel = SMALL.mel(rng.standard_normal(1600)).astype(np.float64)
    inv = registry.create("inverter", name)
    a, b = inv(mel, SMALL), inv(mel, SMALL)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)


def test_flat_spectrum_comes_back_flat_from_transpose():
    basis = SPEC.mel_basis(np.float64)
    flat = np.ones((SPEC.n_freq, 3))
    out = registry.create("inverter", "transpose")(basis @ flat, SPEC)
    covered = basis.sum(axis=0) > 0
    np.testing.assert_allclose(out[covered], 1.0, rtol=1e-5)


# ------------------------------------------------------------------------ bad domains


@pytest.fixture
def mel(noise):
    return SPEC.mel(noise)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (lambda m: np.log(np.maximum(m, 1e-5)), "natural log"),
        (lambda m: np.log10(np.maximum(m, 1e-5)), "log10"),
        (lambda m: 20 * np.log10(np.maximum(m, 1e-5)), "dB"),
    ],
)
def test_log_mel_given_as_linear_names_the_compression(mel, transform, expected):
    with pytest.raises(InputError, match="negative values") as info:
        registry.create("inverter", "nnls")(transform(mel), SPEC)
    assert expected in str(info.value) and "compression=" in str(info.value)


def test_transposed_and_wrong_band_count(mel):
    inv = registry.create("inverter", "nnls")
    with pytest.raises(InputError, match="transposed.*mel.T"):
        inv(mel.T, SPEC)
    with pytest.raises(InputError, match="n_mels=80"):
        inv(mel[:64], SPEC)
    with pytest.raises(InputError, match="n_mels=80"):
        inv(mel[0], SPEC)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_named(mel, bad):
    m = np.log(np.maximum(mel, 1e-5))
    m[3, 4] = bad
    with pytest.raises(InputError, match="NaN and .* Inf") as info:
        registry.create("inverter", "pinv")(m, SPEC.replace(compression="ln"))
    if bad == -np.inf:
        assert "floor" in str(info.value)


def test_linear_mel_given_as_log_is_caught(mel):
    inv = registry.create("inverter", "pinv")
    # a linear mel at a large scale (e.g. int16 audio) cannot be a log mel: exp overflows
    with pytest.raises(InputError, match="compression='none'"):
        inv(mel * 1e4, SPEC.replace(compression="ln"))
    # every band >= 1 after undoing the log: doubtful, warned
    with pytest.warns(MelDomainWarning, match="compression='none'"):
        inv(mel + 0.5, SPEC.replace(compression="ln"))
    # a real ln mel (quiet bands below 1) raises no domain warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", MelDomainWarning)
        inv(np.log(np.maximum(mel, 1e-5)), SPEC.replace(compression="ln", floor=1e-5))


def test_empty_bands_warned():
    bad = get_spec("speech16k", n_fft=256, win_length=256, hop_length=64, n_mels=128)
    empty = empty_mel_bands(bad)
    basis = bad.mel_basis(np.float64)
    assert empty and all(not basis[i].any() for i in empty)
    mel = np.ones((bad.n_mels, 4), np.float32)
    with pytest.warns(EmptyMelBandWarning, match="larger n_fft"):
        check_mel(mel, bad)
    assert empty_mel_bands(SPEC) == ()


# ------------------------------------------------------------------------ nnls: exactness


def _random_problem(rng, n_rows, n_cols, k, *, banded=False, exact=False):
    if banded:
        n_fft = 2 * (n_cols - 1)
        spec = get_spec("speech16k", n_fft=n_fft, win_length=n_fft, hop_length=16, n_mels=n_rows)
        basis = spec.mel_basis(np.float64)
    else:
        basis = np.abs(rng.standard_normal((n_rows, n_cols))) * (rng.random((n_rows, n_cols)) < 0.6)
    if exact:
        mel = basis @ np.abs(rng.standard_normal((basis.shape[1], k)))
    else:
        mel = rng.standard_normal((n_rows, k)) + 0.5
    return basis, mel


@pytest.mark.parametrize(
    ("n_rows", "n_cols", "banded", "exact"),
    [(12, 8, False, False), (8, 20, False, False), (10, 33, True, True), (10, 33, True, False)],
)
def test_nnls_kkt_and_matches_scipy(n_rows, n_cols, banded, exact, rng):
    basis, mel = _random_problem(rng, n_rows, n_cols, 6, banded=banded, exact=exact)
    res = nnls_solve(mel, basis, max_iter=100_000, tol=1e-10)
    x = res.x
    assert x.dtype == np.float64 and np.all(x >= 0)
    grad = basis.T @ (basis @ x - mel)
    scale = np.linalg.norm(basis.T @ mel)
    # KKT: x >= 0, grad >= 0, x * grad = 0 (to tolerance)
    assert np.all(grad >= -1e-6 * scale)
    assert np.max(np.abs(x * grad)) <= 1e-6 * scale * max(1.0, float(x.max()))
    assert np.linalg.norm(nnls_projected_gradient(x, grad)) <= 1e-6 * scale
    for j in range(mel.shape[1]):
        xs, rnorm = scipy.optimize.nnls(basis, mel[:, j])
        ours = _objective(basis, x[:, j], mel[:, j])
        ref = rnorm**2
        if ref > 1e-12:
            assert ours <= ref * (1 + 1e-4)
        else:
            assert ours <= 1e-4 * max(1.0, float(np.sum(mel[:, j] ** 2))) * 1e-4


def test_nnls_float32_matches_scipy_objective(rng):
    basis, mel = _random_problem(rng, 16, 10, 5)
    res = nnls_solve(mel.astype(np.float32), basis, max_iter=20_000, tol=1e-6)
    assert res.x.dtype == np.float32 and np.all(res.x >= 0)
    for j in range(mel.shape[1]):
        ref = scipy.optimize.nnls(basis, mel[:, j])[1] ** 2
        assert _objective(basis, res.x[:, j], mel[:, j]) <= ref * (1 + 1e-4) + 1e-6


@settings(max_examples=20, deadline=None)
@given(
    n_rows=st.integers(1, 12),
    n_cols=st.integers(1, 12),
    k=st.integers(1, 5),
    log_scale=st.floats(-6, 6),
    seed=st.integers(0, 2**16),
)
def test_nnls_property_shapes_and_scales(n_rows, n_cols, k, log_scale, seed):
    rng = np.random.default_rng(seed)
    basis = np.abs(rng.standard_normal((n_rows, n_cols)))
    mel = (rng.standard_normal((n_rows, k)) + 0.3) * 10.0**log_scale
    res = nnls_solve(mel, basis, max_iter=50_000, tol=1e-10)
    assert res.x.shape == (n_cols, k) and np.all(res.x >= 0)
    for j in range(k):
        ref = scipy.optimize.nnls(basis, mel[:, j])[1] ** 2
        ours = _objective(basis, res.x[:, j], mel[:, j])
        norm2 = float(np.sum(mel[:, j] ** 2))
        assert ours <= ref + 1e-4 * max(ref, 1e-4 * norm2)


@settings(max_examples=10, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    frames=st.integers(1, 7),
    log_scale=st.floats(-8, 8),
    seed=st.integers(0, 2**16),
)
def test_nnls_inverter_property_batch_and_scale(lead, frames, log_scale, seed):
    """Per frame of any batch and scale, the objective is scipy.optimize.nnls's optimum."""
    rng = np.random.default_rng(seed)
    mag = np.abs(rng.standard_normal((*lead, SMALL.n_freq, frames))).astype(np.float32)
    mag *= np.float32(10.0**log_scale)
    # an inexact mel (noise) so the optimum is a non-zero residual that scipy pins down
    mel = SMALL.mel_from_magnitude(mag, compress=False)
    mel = (mel * rng.uniform(0.5, 1.5, size=mel.shape)).astype(np.float32)
    out = registry.create("inverter", "nnls")(mel, SMALL)
    assert out.shape == mag.shape and out.dtype == np.float32 and np.all(out >= 0)
    basis = SMALL.mel_basis(np.float64)
    flat_out = out.reshape(-1, SMALL.n_freq, frames)
    flat_mel = mel.reshape(-1, SMALL.n_mels, frames).astype(np.float64)
    for b in range(flat_mel.shape[0]):
        for t in range(frames):
            m = flat_mel[b, :, t]
            ref = scipy.optimize.nnls(basis, m)[1] ** 2
            ours = _objective(basis, flat_out[b, :, t], m)
            # float32 output: objective within 1e-4 of the norm of the mel frame
            assert ours <= ref + 1e-4 * float(m @ m), (b, t, ours, ref)


@pytest.mark.parametrize("spec", [SPEC, get_spec("tts22k"), SMALL.replace(htk=True, fmin=100.0)])
def test_nnls_start_is_the_clipped_pseudo_inverse(spec, rng):
    """Zero iterations return the start: the banded (tridiagonal) route equals numpy's pinv."""
    mel = np.abs(rng.standard_normal((2, spec.n_mels, 7))).astype(np.float32)
    out = mel_nnls_inverse(mel, spec, max_iter=0)
    ref = np.maximum(np.linalg.pinv(spec.mel_basis(np.float64)) @ mel.astype(np.float64), 0)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6 * float(ref.max()))


def test_nnls_zero_and_degenerate_inputs():
    out = registry.create("inverter", "nnls")(np.zeros((SPEC.n_mels, 3), np.float32), SPEC)
    assert out.shape == (SPEC.n_freq, 3) and not out.any()
    res = nnls_solve(np.ones((3, 2)), np.zeros((3, 4)))
    assert not res.x.any()
    with pytest.raises(ParameterError, match="max_iter"):
        registry.create("inverter", "nnls", {"max_iter": -1})
    with pytest.raises(ParameterError, match="start"):
        registry.create("inverter", "nnls", {"start": "ones"})


# ------------------------------------------------------------------------ nnls: real speech


def test_nnls_on_bundled_speech_reaches_scipys_optimum_per_frame():
    """Every 8th frame of the bundled speech: the objective equals scipy.optimize.nnls's
    (zero: the mel of a real magnitude is exact), where the clipped pinv is far from it."""
    mag, mel = _speech()
    basis = SPEC.mel_basis(np.float64)
    pinv = registry.create("inverter", "pinv")(mel, SPEC)
    out, info = mel_nnls_inverse(mel, SPEC, return_info=True)
    assert info.converged and info.n_unconverged == 0
    mel64 = mel.astype(np.float64)
    for t in range(0, mel.shape[1], 8):
        m = mel64[:, t]
        ref = scipy.optimize.nnls(basis, m)[1] ** 2
        assert _objective(basis, out[:, t], m) <= ref + 1e-6 * float(m @ m) + 1e-12, t
    # the start (clipped pinv) was not already the answer
    assert _objective(basis, out, mel) * 100 <= _objective(basis, pinv, mel)
    assert spectral_convergence_db(mag, out) < spectral_convergence_db(mag, pinv)
    # the plugin returns the same as the function
    np.testing.assert_allclose(registry.create("inverter", "nnls")(mel, SPEC), out, rtol=1e-6)


def test_nnls_start_decides_which_exact_solution():
    """Underdetermined: an exact active-set solver reaches another zero-residual solution,
    a sparse vertex far from ours and worse against the true magnitude."""
    mag, mel = _speech()
    sl = slice(60, 120)
    basis = SPEC.mel_basis(np.float64)
    ours = mel_nnls_inverse(mel[:, sl], SPEC)
    vertex = np.stack(
        [scipy.optimize.nnls(basis, mel[:, j].astype(np.float64))[0] for j in range(60, 120)], 1
    )
    norm = float(np.sum(mel[:, sl].astype(np.float64) ** 2))
    for x in (ours, vertex):
        assert _objective(basis, x, mel[:, sl]) <= 1e-6 * norm
    assert np.linalg.norm(ours - vertex) > 0.2 * np.linalg.norm(ours)
    assert np.mean(vertex > 0) < np.mean(ours > 0)  # the vertex is sparser
    assert spectral_convergence_db(mag[:, sl], ours) < spectral_convergence_db(mag[:, sl], vertex)


# ------------------------------------------------------------------------ nnls_consistent


def test_ratio_steps_reach_the_mel_and_keep_structure(rng):
    """Multiplicative steps: a mel-exact input is a fixed point; zeros stay zero."""
    basis = SMALL.mel_basis(np.float64)
    s = np.abs(rng.standard_normal((5, SMALL.n_freq))).astype(np.float32)
    s[:, ::7] = 0
    mel = (s.astype(np.float64) @ basis.T).astype(np.float32)
    covered = basis.sum(axis=0) > 0
    fixed = mel_ratio_steps(s.copy(), mel, SMALL, 3)
    np.testing.assert_allclose(fixed[:, covered], s[:, covered], rtol=1e-4, atol=1e-6)
    # from a wrong level, the steps move the mel towards the target
    start = s * np.float32(3.0)
    moved = mel_ratio_steps(start.copy(), mel, SMALL, 5)
    err0 = np.linalg.norm(start @ basis.T - mel)
    err1 = np.linalg.norm(moved @ basis.T - mel)
    assert err1 < 0.05 * err0
    assert np.all(moved[:, ::7] == 0) and np.all(moved >= 0)


def test_nnls_consistent_beats_nnls_on_bundled_speech():
    mag, mel = _speech()
    basis = SPEC.mel_basis(np.float64)
    nnls = mel_nnls_inverse(mel, SPEC)
    out = registry.create("inverter", "nnls_consistent")(mel, SPEC)
    assert out.dtype == np.float32 and np.all(out >= 0)
    # still an exact solution of the mel (the polish), ...
    assert _objective(basis, out, mel) <= 1e-6 * float(np.sum(mel.astype(np.float64) ** 2))
    # ... but a much better one against the true magnitude
    assert spectral_convergence_db(mag, out) <= spectral_convergence_db(mag, nnls) - 1.0
    # zero iterations = nnls
    np.testing.assert_allclose(mel_consistent_inverse(mel, SPEC, n_iter=0), nnls, rtol=1e-6)


def test_nnls_consistent_parameters():
    with pytest.raises(ParameterError, match=r"alpha=-0\.5 \(the FGLA momentum\)"):
        registry.create("inverter", "nnls_consistent", {"alpha": -0.5})
    # the old name of the momentum is gone (one name per concept: alpha, as in fgla)
    with pytest.raises(ParameterError, match=r"no parameter\(s\) \['momentum'\].*'alpha'"):
        registry.create("inverter", "nnls_consistent", {"momentum": 0.5})
    with pytest.raises(ParameterError, match="init"):
        registry.create("inverter", "nnls_consistent", {"init": "pghi"})
    with pytest.raises(ParameterError, match="n_iter"):
        registry.create("inverter", "nnls_consistent", {"n_iter": -1})


@settings(max_examples=5, deadline=None)
@given(lead=st.lists(st.integers(1, 2), max_size=1), frames=st.integers(1, 6),
       log_scale=st.floats(-6, 6), seed=st.integers(0, 2**16))
def test_nnls_consistent_property_exact_and_nonnegative(lead, frames, log_scale, seed):
    rng = np.random.default_rng(seed)
    mag = np.abs(rng.standard_normal((*lead, SMALL.n_freq, frames))).astype(np.float32)
    mag *= np.float32(10.0**log_scale)
    mel = SMALL.mel_from_magnitude(mag, compress=False)
    out = registry.create("inverter", "nnls_consistent", {"n_iter": 10})(mel, SMALL)
    assert out.shape == mag.shape and out.dtype == np.float32
    assert np.all(out >= 0) and np.all(np.isfinite(out))
    basis = SMALL.mel_basis(np.float64)
    assert np.linalg.norm(basis @ out.astype(np.float64) - mel) <= 1e-3 * np.linalg.norm(mel)


def test_bench_inverters_writes_its_table(tmp_path):
    from melbench.bench import inverters as bench

    out = tmp_path / "bench.md"
    code = bench.main([
        "--specs", "speech16k", "--clips", "cmu_arctic_a0007", "--inverters", "transpose",
        "pinv", "nnls", "--repeat", "1", "--no-pesq", "--no-librosa", "--out", str(out),
    ])
    assert code == 0
    # the per-clip table, parsed: its numbers against values recomputed here with numpy
    lines = out.read_text().split("## Per clip", 1)[1].strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rec = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        table[rec["inverter"]] = rec
    assert sorted(table) == ["nnls", "pinv", "transpose"]
    mag, mel = _speech()
    basis = SPEC.mel_basis(np.float64)
    sc = {}
    for name, rec in table.items():
        est = registry.create("inverter", name)(mel, SPEC).astype(np.float64)
        sc[name] = 20 * np.log10(np.linalg.norm(est - mag) / np.linalg.norm(mag))
        assert float(rec["SC dB"]) == pytest.approx(sc[name], abs=0.006), name
        obj = _objective(basis, est, mel)
        assert float(rec["objective"]) == pytest.approx(obj, rel=6e-3, abs=1e-9), name
        assert float(rec["seconds"]) > 0
    # the headline's verdict follows the recomputed SCs
    holds = sc["nnls"] < sc["pinv"] < sc["transpose"]
    head = out.read_text().split("## Headline", 1)[1].split("##", 1)[0]
    assert ("(holds)" in head) == holds and holds


@pytest.mark.slow
def test_nnls_matches_scipy_on_every_speech_frame():
    """Exhaustive: per frame of the bundled speech, objective within 1e-4 of scipy's."""
    _, mel = _speech()
    basis = SPEC.mel_basis(np.float64)
    mel64 = mel.astype(np.float64)
    res = nnls_solve(mel64, basis, max_iter=20_000, tol=1e-9)
    for j in range(mel.shape[1]):
        ref = scipy.optimize.nnls(basis, mel64[:, j])[1] ** 2
        ours = _objective(basis, res.x[:, j], mel64[:, j])
        assert ours <= ref + 1e-4 * max(ref, 1e-4 * float(np.sum(mel64[:, j] ** 2))), j
