"""Rule g of ``guarded`` at low redundancy, PGHI start (``melbench.inverters.guard_overlap``).

At torchaudio's framing (400 / 200, 50 % overlap) the kept inner's magnitude is mixed with
the ``nnls`` one and re-phased (PGHI, then FGLA): on the bundled CMU ARCTIC clip, over issue
16's PESQ bound with the eighth round's rule (2.38 against the reference's 2.59), it is
within it. At the redundancy-4 presets nothing of it runs: the output is bit-identical to
the previous rule's parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from melbench import registry
from melbench.bench.pipelines import _measure, clips_for
from melbench.errors import ParameterError
from melbench.inverters.guard_overlap import low_redundancy, overlap_estimate, scaled_iterations
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec

NEW = "guarded:200:inner=joint_auto+fgla:0"
ROUND8 = "guarded:200:inner=joint_auto:tail_start=inner:tail_iter=8+fgla:0"
REF = "nnls+fgla:100"
PREVIOUS = {"tail_start": "inner", "tail_iter": 8, "tail_mix": 0.0, "tail_iter_scale": 1.0}


def _clip(spec, cid):
    (c, kind, y), = clips_for(spec, [cid], False, 2.5)
    return c, kind, y


@pytest.mark.filterwarnings("ignore::melbench.validation.MelbenchWarning")
def test_pghi_start_fixes_the_cmu_pesq_loss_at_torchaudio():
    """Measured: PESQ-wb 2.66 (new) / 2.38 (round 8) / 2.59 (reference); SC -14.46 / -14.67 / -14.45 dB."""
    spec = get_spec("torchaudio")
    cid, kind, y = _clip(spec, "cmu_arctic_a0007")
    mag = spec.magnitude(y)
    mel = spec.mel_from_magnitude(mag)
    r = {c: _measure(c, spec, "torchaudio", "clean", cid, kind, y, mag, mel, 0, spectral_convergence_db)
         for c in (NEW, ROUND8, REF)}
    assert r[NEW]["guard"].startswith("inner")
    assert r[NEW]["pesq_wb"] > r[REF]["pesq_wb"] - 0.05  # within issue 16's bound
    assert r[NEW]["pesq_wb"] > r[ROUND8]["pesq_wb"] + 0.15
    assert r[NEW]["sc_db"] < r[REF]["sc_db"] + 0.3
    ctx = {"clip": cid}
    registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 200})(mel, spec, context=ctx)
    rec = ctx["guard"]
    assert rec["chosen"] == "inner" and rec["tail"] == 64 and np.isfinite(rec["overlap"])
    # rule c compared the fallback with the worse of the two estimates, and kept the inner
    assert rec["fallback"] >= max(rec["inner"], rec["overlap"])


def test_inner_runs_half_its_iterations_at_low_redundancy_only():
    g = registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 200})
    assert g._inner(0.5).params.joint_iter == 100
    assert g._inner().params.joint_iter == 200
    assert scaled_iterations(200, 0.5) == 100 and scaled_iterations(1, 0.5) == 1
    assert scaled_iterations(0, 0.5) == 0  # the inner's own default is left alone
    assert low_redundancy(get_spec("torchaudio"), 2.0)
    assert not low_redundancy(get_spec("speech16k"), 2.0)
    assert not low_redundancy(get_spec("torchaudio"), 0.0)


@pytest.mark.parametrize("spec_name", ["speech16k", "bigvgan_44k_128"])
def test_no_change_at_redundancy_four(spec_name):
    """The new defaults give round 8's output bit for bit where win / hop > 2."""
    spec = get_spec(spec_name)
    _, _, y = _clip(spec, "allison_vm-review")
    mel = spec.mel(y[: spec.sample_rate])
    out = []
    for extra in ({}, PREVIOUS):
        ctx = {"clip": "x"}
        g = registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 20, **extra})
        out.append((g(mel, spec, context=ctx), ctx["phase_init"], ctx["guard"]))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert out[0][2]["tail"] == 0 and np.isnan(out[0][2]["overlap"])


def test_overlap_estimate_mixes_and_is_consistent():
    """The mix is ``(1 - b) A + b B``; PGHI + FGLA leaves an estimate closer to consistent than PGHI alone."""
    spec = get_spec("torchaudio")
    _, _, y = _clip(spec, "allison_vm-review")
    mag = spec.magnitude(y).astype(np.float32)
    mag0 = np.roll(mag, 1, axis=-1)
    m, x = overlap_estimate(mag, mag0, spec, mix=0.25, n_iter=16)
    np.testing.assert_allclose(m, 0.75 * mag + 0.25 * mag0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.abs(x), m, rtol=1e-4, atol=1e-6)
    _, x_pghi = overlap_estimate(mag, mag0, spec, mix=0.25, n_iter=0)

    def incons(z):
        t = spec.stft(spec.istft(z, length=len(y)))[..., : z.shape[-1]]
        return np.linalg.norm(np.abs(t) - m) / np.linalg.norm(m)

    assert incons(x) < 0.8 * incons(x_pghi)


@pytest.mark.parametrize("params, match", [
    ({"tail_start": "lws"}, "tail_start='lws'; choose 'pghi' or 'inner'"),
    ({"tail_mix": 1.5}, "tail_mix=1.5, tail_iter_scale=0.5: need 0 <= tail_mix <= 1"),
    ({"tail_iter_scale": 0.0}, "tail_iter_scale=0.0: need"),
])
def test_bad_params(params, match):
    with pytest.raises(ParameterError, match=match):
        registry.create("inverter", "guarded", params)


def test_rephased_estimate_is_reproducible():
    """PGHI draws random phases below its tolerance: the guard's seed fixes them (the bench's
    ``--timing-repeat`` refuses a cell whose repeated calls differ)."""
    spec = get_spec("torchaudio")
    _, _, y = _clip(spec, "cmu_arctic_a0007")
    mel = spec.mel(y)
    g = registry.create("inverter", "guarded", {"inner": "joint_auto", "inner_iter": 200})
    outs = []
    for _ in range(2):
        ctx = {"clip": "x"}
        g(mel, spec, context=ctx)
        assert ctx["guard"]["tail"] == 64
        outs.append(ctx["phase_init"])
    np.testing.assert_array_equal(outs[0], outs[1])
