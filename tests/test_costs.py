"""Cost accounting (melbench.costs): counted FFTs against an independent tally of scipy's FFTs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.fft
import scipy.optimize

from melbench import costs, registry
from melbench.datasets.base import Clip
from melbench.pipeline import run_clip
from melbench.plugin import PhaseRetriever
from melbench.spec import get_spec
from melbench.testing import conformance_signal

SPEC = get_spec("speech16k", n_fft=256, win_length=256, hop_length=64)


@pytest.fixture(scope="module")
def magnitude():
    y = conformance_signal(SPEC.sample_rate, seconds=0.5)
    return SPEC.magnitude(y)


@pytest.fixture
def tally(monkeypatch):
    """Frames transformed by scipy.fft's (r)fft/i(r)fft, counted by wrapping scipy itself."""
    count = {"frames": 0}
    for name in ("rfft", "irfft", "fft", "ifft"):
        orig = getattr(scipy.fft, name)

        def wrapped(x, *args, _orig=orig, **kwargs):
            arr = np.asarray(x)
            axis = kwargs.get("axis", args[1] if len(args) > 1 else -1)
            count["frames"] += arr.size // arr.shape[axis] if arr.ndim else 1
            return _orig(x, *args, **kwargs)

        monkeypatch.setattr(scipy.fft, name, wrapped)
    return count


def _small(kind: str, name: str):
    """The plugin with few iterations (its own iteration parameter), or None if not built."""
    cls = registry.get(kind, name)
    counter = getattr(cls, "iterations_param", None)
    params = {}
    if name == "chain":
        params = {"steps": ["pghi", "dm:3", "fgla:4"]}
    elif counter and counter in {f.name for f in __import__("dataclasses").fields(cls.Params)}:
        params = {counter: 3}
    try:
        return registry.create(kind, name, params)
    except Exception:  # noqa: BLE001 - a plugin needing arguments: not part of this check
        return None


#: Plugins whose FFTs run in compiled code (numba + rocket-fft), out of scipy's sight: their
#: counts are checked against the published schedule instead (below).
COMPILED_FFTS = {"rtisi_la"}


def _counted_phase() -> list[str]:
    return [n for n in registry.available("phase") if n not in COMPILED_FFTS
            and getattr(registry.get("phase", n), "counts_ffts", False)]


@pytest.mark.parametrize("name", _counted_phase())
def test_counted_ffts_equal_an_independent_tally(name, magnitude, tally):
    """Every phase retriever declaring counts_ffts counts exactly the FFT frames scipy ran."""
    plugin = _small("phase", name)
    if plugin is None or plugin.skip(SPEC):
        pytest.skip(f"{name} does not run at this spec with small parameters")
    plugin(magnitude, SPEC, rng=0)  # one-off warm-ups (numba, caches) outside the count
    tally["frames"] = 0
    with costs.ledger() as led:
        plugin(magnitude, SPEC, rng=0)
    assert led.frame_ffts == tally["frames"]


@pytest.mark.parametrize("name", [n for n in registry.available("inverter")
                                  if getattr(registry.get("inverter", n), "counts_ffts", False)])
def test_counted_inverter_ffts_equal_an_independent_tally(name, magnitude, tally):
    inv = _small("inverter", name)
    if inv is None or inv.needs_reference:
        pytest.skip(f"{name} needs more than a mel")
    mel = SPEC.mel_from_magnitude(magnitude)
    inv(mel, SPEC)
    tally["frames"] = 0
    with costs.ledger() as led:
        inv(mel, SPEC)
    assert led.frame_ffts == tally["frames"]


@pytest.mark.parametrize(("name", "n_iter", "pairs"), [
    ("gla", 7, 7), ("fgla", 7, 7), ("agla", 7, 7), ("raar", 7, 7),
    ("dm", 7, 14),  # the difference map projects twice per iteration (Peer et al. 2022)
])
def test_fft_pairs_per_iteration(name, n_iter, pairs, magnitude, tally):
    plugin = registry.create("phase", name, {"n_iter": n_iter})
    plugin(magnitude, SPEC, rng=0)
    tally["frames"] = 0
    with costs.ledger() as led:
        plugin(magnitude, SPEC, rng=0)
    n_frames = magnitude.shape[-1]
    assert led.fft_pairs(n_frames) == pairs
    assert tally["frames"] / (2 * n_frames) == pairs  # the unit: one inverse + one forward


@pytest.mark.parametrize(("look_ahead", "n_iter", "warm"), [(None, 2, False), (1, 3, True)])
def test_rtisi_la_counts_its_schedule(look_ahead, n_iter, warm, magnitude):
    """RTISI-LA (Zhu et al. 2007): each frame is re-estimated n_iter times at each of the
    look_ahead + 1 steps it is open (fewer for the first frames), one rfft + one irfft each;
    a warm start adds one inverse FFT per frame."""
    frames = magnitude.shape[-1]
    la = -(-SPEC.n_fft // SPEC.hop_length) - 1 if look_ahead is None else look_ahead
    la = min(la, frames - 1)
    updates = sum(n_iter * (min(j, la) + 1) for j in range(frames))
    expect = 2 * updates + (frames if warm else 0)
    plugin = registry.create("phase", "rtisi_la", {"look_ahead": look_ahead, "n_iter": n_iter})
    init = np.zeros(magnitude.shape) if warm else None
    with costs.ledger() as led:
        plugin(magnitude, SPEC, init=init, rng=0)
    assert led.frame_ffts == expect


def test_trace_bookkeeping_is_not_counted_and_traces_carry_fft_pairs(magnitude):
    for name, per_iter in (("fgla", 1), ("raar", 1), ("dm", 2)):
        plugin = registry.create("phase", name, {"n_iter": 5})
        with costs.ledger() as plain:
            plugin(magnitude, SPEC, rng=0)
        trace: list = []
        with costs.ledger() as traced:
            plugin(magnitude, SPEC, rng=0, trace=trace)
        assert traced.frame_ffts == plain.frame_ffts, name
        assert [r["fft_pairs"] for r in trace] == [per_iter * r["iter"] for r in trace], name


def test_chain_trace_and_count_sum_its_steps(magnitude):
    chain = registry.create("phase", "chain", {"steps": ["pghi", "dm:3", "fgla:4"]})
    trace: list = []
    with costs.ledger() as led:
        chain(magnitude, SPEC, rng=0, trace=trace)
    assert led.fft_pairs(magnitude.shape[-1]) == 2 * 3 + 4
    assert trace[-1]["fft_pairs"] == 10 and trace[0]["fft_pairs"] == 0


def test_nested_ledgers_add_up_and_uncounted_is_free(magnitude):
    with costs.ledger() as outer:
        costs.add_frame_ffts(3)
        with costs.ledger() as inner:
            costs.add_fft_pairs(2, n_frames=5)
            costs.report(iter=4)
        with costs.uncounted():
            costs.add_frame_ffts(100)
    assert inner.frame_ffts == 20 and inner.facts == {"iter": 4}
    assert outer.frame_ffts == 23 and outer.facts == {}
    costs.add_frame_ffts(1)  # outside any ledger: nothing to count, no error


# --------------------------------------------------------------------------- rows


class _ThirdParty(PhaseRetriever):
    """A plugin written without cost accounting: its own FFTs, no counts_ffts."""

    name = "third_party_fft"
    iterations_param = None

    @dataclass
    class Params:
        """No parameters."""

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        x = magnitude.astype(np.complex64)
        scipy.fft.irfft(np.swapaxes(x, -1, -2), n=spec.n_fft, axis=-1)  # uncounted work
        return x


def _clip():
    return Clip(id="c", audio=conformance_signal(SPEC.sample_rate, seconds=0.5))


def test_row_has_fft_pairs_of_both_stages():
    sc = registry.create("metric", "sc")
    res = run_clip(_clip(), SPEC, registry.create("inverter", "nnls_consistent", {"n_iter": 5}),
                   registry.create("phase", "dm", {"n_iter": 4}), [sc])
    row = res.row
    assert row["status"] == "ok"
    assert row["fft_pairs_phase"] == 8
    assert row["fft_pairs_invert"] == 5  # one consistency projection per iteration
    assert row["fft_pairs"] == row["fft_pairs_invert"] + row["fft_pairs_phase"]


def test_a_plugin_without_counts_gets_nan_and_a_note_not_an_error():
    registry.register("phase", _ThirdParty, "third_party_fft")
    try:
        res = run_clip(_clip(), SPEC, registry.create("inverter", "pinv"),
                       registry.create("phase", "third_party_fft"), [registry.create("metric", "sc")])
    finally:
        registry.unregister("phase", "third_party_fft")
    row = res.row
    assert row["status"] == "ok" and math.isfinite(row["sc_db"])
    assert row["fft_pairs_invert"] == 0
    assert math.isnan(row["fft_pairs_phase"]) and math.isnan(row["fft_pairs"])
    assert "fft_pairs_phase: not counted (plugin third_party_fft does not declare counts_ffts)" \
        in row["notes"]


# --------------------------------------------------------------------------- nnls convergence


def _objective(basis, x, m):
    r = basis @ x - m
    return 0.5 * float(r @ r)


@pytest.mark.parametrize("max_iter", [3000, 3])
def test_nnls_convergence_facts_agree_with_scipy_nnls(max_iter, magnitude):
    """Frames flagged converged are at scipy.optimize.nnls's optimum; flagged ones are not."""
    from melbench.inverters.nnls import mel_nnls_inverse

    mel = SPEC.mel_from_magnitude(magnitude).astype(np.float64)
    basis = SPEC.mel_basis(np.float64)
    x, res = mel_nnls_inverse(mel, SPEC, max_iter=max_iter, start="zeros", return_info=True)
    gaps = []
    for t in range(0, mel.shape[-1], 3):
        _, rnorm = scipy.optimize.nnls(basis, mel[:, t])
        scale = 0.5 * float(mel[:, t] @ mel[:, t]) + 1e-30
        gaps.append((_objective(basis, x[:, t], mel[:, t]) - 0.5 * rnorm**2) / scale)
    gaps = np.asarray(gaps)
    if max_iter == 3000:
        assert res.converged and res.n_unconverged == 0 and res.n_iter < max_iter
        assert np.all(gaps < 1e-6)
    else:
        assert not res.converged and res.n_unconverged > 0 and res.n_iter == 3
        assert res.n_unconverged <= res.n_columns == mel.shape[-1]
        assert np.any(gaps > 1e-4)


def test_nnls_cap_is_in_the_row_and_in_the_summary(tmp_path):
    from melbench import runner

    cfg = {"spec": {"preset": "speech16k"},
           "dataset": {"name": "synthetic", "duration": 0.5, "signals": ["chirp", "harmonic"]},
           "inverter": {"name": "nnls", "max_iter": 2}, "phase": {"name": "zero"},
           "metrics": ["sc"], "metric_jobs": 1, "cache_dir": None, "progress": False}
    df = runner.run(cfg, tmp_path / "run", echo=False)
    assert (df["status"] == "ok").all()
    assert (df["invert_converged"] == False).all()  # noqa: E712 - a column of bools
    assert (df["invert_unconverged"] > 0).all() and (df["invert_iter"] == 2).all()
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "nnls: not converged: frames stopped at max_iter=2" in summary
    cfg["inverter"] = {"name": "nnls"}
    df = runner.run(cfg, tmp_path / "run2", echo=False)
    assert (df["invert_converged"] == True).all() and (df["invert_unconverged"] == 0).all()  # noqa: E712
    assert "not converged" not in (tmp_path / "run2" / "summary.md").read_text()
