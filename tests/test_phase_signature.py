"""One signature for every phase function, validation inside it, and true-magnitude traces."""

from __future__ import annotations

import inspect
import json

import librosa
import numpy as np
import pytest

from melbench import registry
from melbench.datasets.base import Clip
from melbench.datasets.bundled import Bundled
from melbench.errors import InputError
from melbench.phase import baselines, chain, lws, pghi, projections, rtisi, spsi
from melbench.phase.helpers import Trace, Tracer, phase_function
from melbench.pipeline import run_clip
from melbench.spec import get_spec

#: Every built-in phase function with the common signature (lws and rtisi_la: s3-speed).
FUNCTIONS = {
    "gla": (projections.gla, {"n_iter": 3}),
    "fgla": (projections.fgla, {"n_iter": 3}),
    "agla": (projections.agla, {"n_iter": 3}),
    "raar": (projections.raar, {"n_iter": 3}),
    "dm": (projections.dm, {"n_iter": 3}),
    "pghi": (pghi.pghi, {}),
    "spsi": (spsi.spsi, {}),
    "zero_phase": (baselines.zero_phase, {}),
    "random_phase": (baselines.random_phase, {}),
    "chain": (chain.chain, {"steps": "pghi>fgla:3"}),
}
ITERATIVE = ("gla", "fgla", "agla", "raar", "dm")


@pytest.fixture(scope="module")
def speech():
    """1 s of cmu_arctic_a0007, its spec and |STFT|."""
    spec = get_spec("speech16k")
    clip = next(Bundled(ids=["cmu_arctic_a0007"]).clips(spec))
    y = clip.audio[16000:32000]
    return spec, y, np.abs(spec.stft(y)).astype(np.float32)


def _consistent_sc(spec, x, reference, length):
    """SC of |STFT(ISTFT(x))| against ``reference``, the STFT by librosa (independent)."""
    y = spec.istft(x, length=length)
    m = np.abs(librosa.stft(y.astype(np.float64), n_fft=spec.n_fft, hop_length=spec.hop_length,
                            window=spec.window, center=spec.center, pad_mode=spec.pad_mode))
    return 20 * np.log10(np.linalg.norm(m - reference) / np.linalg.norm(reference))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_signature_is_the_common_one(name):
    fn, _ = FUNCTIONS[name]
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    assert [p.name for p in params[:2]] == ["magnitude", "spec"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:2])
    for key in ("init", "rng", "trace"):
        p = sig.parameters[key]
        assert p.kind is p.KEYWORD_ONLY and p.default is None, f"{name}: {key}"
    assert all(p.kind is p.KEYWORD_ONLY for p in params[2:]), f"{name}: positional parameters"
    assert getattr(fn, "phase_function", False), f"{name} is not built with phase_function"


@pytest.mark.parametrize("fn", [lws.lws, rtisi.rtisi_la], ids=["lws", "rtisi_la"])
def test_local_methods_follow_the_signature(fn):
    sig = inspect.signature(fn)
    for key in ("init", "rng", "trace"):
        p = sig.parameters[key]
        assert p.kind is p.KEYWORD_ONLY and p.default is None
    assert getattr(fn, "phase_function", False)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_dtypes_batch_axes_and_validation(speech, name):
    spec, _, mag = speech
    fn, kw = FUNCTIONS[name]
    out32 = fn(mag, spec, rng=0, **kw)
    assert out32.dtype == np.complex64 and out32.shape == mag.shape
    out64 = fn(mag.astype(np.float64), spec, rng=0, **kw)
    assert out64.dtype == np.complex128
    ints = fn(np.round(mag * 100).astype(np.int32), spec, rng=0, **kw)  # ints -> float32
    assert ints.dtype == np.complex64
    # leading batch axes: (2, 1, n_freq, frames) of two different items, each fitting its own
    other = mag[:, ::-1].copy()
    batch = fn(np.stack([mag, other])[:, None], spec, rng=0, **kw)
    assert batch.shape == (2, 1, *mag.shape) and batch.dtype == np.complex64
    for i, ref in enumerate((mag, other)):
        assert np.allclose(np.abs(batch[i, 0]), ref, rtol=1e-4, atol=1e-4 * ref.max())
    # validation inside the function, with the cause and the fix
    with pytest.raises(InputError, match="negative values.*is it log-compressed"):
        fn(-mag, spec, rng=0, **kw)
    with pytest.raises(InputError, match=r"n_freq=513"):
        fn(mag[:-1], spec, rng=0, **kw)
    bad = mag.copy()
    bad[3, 4] = np.nan
    with pytest.raises(InputError, match="1 NaN and 0 Inf"):
        fn(bad, spec, rng=0, **kw)
    with pytest.raises(InputError, match="complex"):
        fn(mag.astype(np.complex64), spec, rng=0, **kw)
    with pytest.raises(InputError, match=r"warm start has shape \(3, 3\).*give init of"):
        fn(mag, spec, init=np.zeros((3, 3)), rng=0, **kw)
    with pytest.raises(InputError, match="trace must be None or a list"):
        fn(mag, spec, rng=0, trace={}, **kw)


@pytest.mark.parametrize("name", ITERATIVE)
def test_trace_records_sc_against_the_true_magnitude(speech, name):
    """sc_true_db at k equals the SC, against the reference, of the output after k iterations."""
    spec, _, true = speech
    fn, _ = FUNCTIONS[name]
    noise = np.random.default_rng(5).uniform(0.5, 1.5, true.shape).astype(np.float32)
    target = 2 * true * noise  # an inverter's imperfect estimate, at the wrong level
    tr = Trace(reference=true)
    fn(target, spec, n_iter=6, rng=0, trace=tr)
    assert [r["iter"] for r in tr] == list(range(7))
    assert all({"iter", "sc_db", "t", "sc_true_db"} <= set(r) for r in tr)
    n_max = spec.n_samples(true.shape[-1]) + spec.hop_length - 1
    for k in (0, 2, 6):
        out_k = fn(target, spec, n_iter=k, rng=0)
        assert tr[k]["sc_true_db"] == pytest.approx(_consistent_sc(spec, out_k, true, n_max),
                                                    abs=0.02), k
        assert tr[k]["sc_db"] == pytest.approx(_consistent_sc(spec, out_k, target, n_max),
                                               abs=0.02), k
    # the two measure different things here ...
    assert abs(tr[-1]["sc_true_db"] - tr[-1]["sc_db"]) > 3.0
    # ... and the same when the reference is the target itself; a plain list has no sc_true_db
    same = Trace(reference=target)
    fn(target, spec, n_iter=2, rng=0, trace=same)
    assert all(r["sc_true_db"] == pytest.approx(r["sc_db"], abs=1e-6) for r in same)
    plain: list = []
    fn(target, spec, n_iter=2, rng=0, trace=plain)
    assert all("sc_true_db" not in r for r in plain)


def test_trace_reference_of_the_wrong_shape_is_refused(speech):
    spec, _, mag = speech
    with pytest.raises(InputError, match=r"reference magnitude has shape .*Trace\(reference"):
        projections.fgla(mag, spec, n_iter=1, rng=0, trace=Trace(reference=mag[:, :-1]))


def test_chain_trace_carries_the_reference_across_steps(speech):
    spec, _, true = speech
    target = true * np.random.default_rng(1).uniform(0.5, 1.5, true.shape).astype(np.float32)
    tr = Trace(reference=true)
    out = chain.chain(target, spec, rng=0, trace=tr, steps="pghi>fgla:4")
    assert [r["step"] for r in tr] == ["pghi"] + ["fgla:4"] * 4
    n_max = spec.n_samples(true.shape[-1]) + spec.hop_length - 1
    assert tr[-1]["sc_true_db"] == pytest.approx(_consistent_sc(spec, out, true, n_max), abs=0.02)
    first = pghi.pghi(target, spec, rng=np.random.default_rng(0))
    assert tr[0]["sc_true_db"] == pytest.approx(_consistent_sc(spec, first, true, n_max), abs=0.02)


def test_pipeline_trace_has_the_true_magnitude_sc(speech):
    spec, y, _ = speech
    clip = Clip(id="a", audio=y, sample_rate=spec.sample_rate,
                meta={"source_sample_rate": spec.sample_rate})
    inv = registry.create("inverter", "pinv")
    ph = registry.create("phase", "fgla", {"n_iter": 5})
    sc = registry.create("metric", "sc")
    row = run_clip(clip, spec, inv, ph, [sc], seed=0, record_trace=True).row
    tr = json.loads(row["trace"])
    assert [r["iter"] for r in tr] == list(range(6))
    assert all("sc_true_db" in r and "fft_pairs" in r for r in tr)
    assert [r["fft_pairs"] for r in tr] == sorted(r["fft_pairs"] for r in tr)
    # the last record is the row's true-magnitude SC (up to the projection's longer signal)
    assert tr[-1]["sc_true_db"] == pytest.approx(row["sc_true_db"], abs=0.3)
    assert tr[-1]["sc_true_db"] != pytest.approx(tr[-1]["sc_db"], abs=0.5)


def test_phase_function_decorator_on_a_2d_core(speech):
    spec, _, mag = speech
    seen = []

    @phase_function(batched=False)
    def core(magnitude, spec, *, init=None, rng=None, trace=None, scale=1.0):
        seen.append(magnitude.shape)
        return magnitude * scale * np.exp(1j * rng.uniform(-np.pi, np.pi, magnitude.shape))

    out = core(np.stack([mag, mag, mag]), spec, rng=3, scale=2.0)
    assert seen == [mag.shape] * 3 and out.dtype == np.complex64
    np.testing.assert_allclose(np.abs(out), 2 * np.stack([mag] * 3), rtol=1e-6)
    # one generator stream through the items, in C order
    g = np.random.default_rng(3)
    first = g.uniform(-np.pi, np.pi, mag.shape)
    second = g.uniform(-np.pi, np.pi, mag.shape)
    np.testing.assert_allclose(np.angle(out[0]), np.angle(np.exp(1j * first)), atol=1e-5)
    np.testing.assert_allclose(np.angle(out[1]), np.angle(np.exp(1j * second)), atol=1e-5)


def test_tracer_record_measures_against_target_and_reference(speech):
    spec, _, true = speech
    target = 0.5 * true
    tr = Trace(reference=true)
    t = Tracer(tr, target)
    t.mark()
    t.record(0, target.astype(np.complex64), stage="x")
    rec = tr[0]
    assert rec["sc_db"] == float("-inf") and rec["stage"] == "x"
    assert rec["sc_true_db"] == pytest.approx(20 * np.log10(0.5), abs=1e-6)
    off = Tracer(None, target)
    off.mark()
    off.record(0, target)  # nothing measured, nothing raised
    assert off.times == []


def test_torch_fgla_trace_matches_the_numpy_one(speech):
    torch = pytest.importorskip("torch")
    from melbench.torch_backend import phase as tphase

    spec, _, true = speech
    target = 2 * true * np.random.default_rng(5).uniform(0.5, 1.5, true.shape).astype(np.float32)
    ref_np, ref_t = Trace(reference=true), Trace(reference=true)
    x_np = projections.fgla(target, spec, n_iter=6, rng=0, trace=ref_np)
    x_t = tphase.fgla(torch.as_tensor(target), spec, n_iter=6, rng=0, trace=ref_t)
    np.testing.assert_allclose(x_t.numpy(), x_np, atol=1e-3 * float(target.max()))
    assert [r["iter"] for r in ref_t] == list(range(7))
    for a, b in zip(ref_np, ref_t, strict=True):
        assert b["sc_db"] == pytest.approx(a["sc_db"], abs=0.01)
        assert b["sc_true_db"] == pytest.approx(a["sc_true_db"], abs=0.01)
    assert [r["t"] for r in ref_t] == sorted(r["t"] for r in ref_t)
    with pytest.raises(InputError, match="negative values"):
        tphase.fgla(-torch.as_tensor(target), spec, n_iter=1)
    sig = inspect.signature(tphase.fgla)
    assert all(sig.parameters[k].kind is inspect.Parameter.KEYWORD_ONLY
               and sig.parameters[k].default is None for k in ("init", "rng", "trace"))
