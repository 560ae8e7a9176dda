"""Conformance checks every plugin must pass, usable by third-party plugin authors.

Each ``check_*`` function takes a plugin class (or instance) and raises
``AssertionError`` with a specific message when the plugin breaks the contract.
melbench's own test suite runs them over every registered plugin; a plugin
package can do the same in a few lines::

    import pytest
    from melbench.testing import check_plugin

    @pytest.mark.parametrize("name", ["my_inverter"])
    def test_conformance(name):
        check_plugin("inverter", name)

What is checked, per kind:

- inverter: output shape ``(..., n_freq, frames)``, float32 for float32 input,
  finite and non-negative; leading batch axes give the per-item results;
  deterministic; an oracle check (its mel is closer to the input mel than
  silence is); clear :class:`~melbench.errors.InputError` for a wrong band
  count and for NaN.
- phase: complex output of the magnitude's shape (complex64 for float32),
  finite; deterministic for a fixed seed; leading batch axes (two *different*
  magnitudes stacked: each item's output fits its own magnitude better than the
  other one); its output's consistency is no worse than trivial (random or zero)
  phase; with the true phase as ``init`` (for plugins whose ``warm_start`` is True)
  near-perfect consistency (SC at most -30 dB and 10 dB better than without it; a
  ParameterError saying it takes no warm start is accepted); clear errors for
  negative magnitudes, a wrong bin count and a misshapen warm start; its trace (given a
  :class:`~melbench.phase.helpers.Trace` whose reference is the magnitude itself) holds
  dicts with a non-decreasing integer ``iter`` and a float ``sc_db``, and ``sc_true_db``,
  where recorded, equals ``sc_db`` (same reference) within 0.01 dB.
- metric: returns only declared columns, as floats, deterministically (timing
  excepted) on a real pipeline context.
- dataset: clips are mono float32 at the spec's rate (or mels with the spec's
  band count), with unique ids.
- degrade (:func:`check_degradation`): on a linear, an ln-compressed and a dB mel the
  output has the input's shape and dtype, is finite, keeps the mel's form (non-negative
  when linear; its log mel within 1.5 standard deviations RMS of the input's), leaves the input
  untouched, is deterministic for a fixed seed and handles leading batch axes;
  ``none`` returns the mel unchanged.
- framings (:func:`check_framings`, inverters and phase retrievers): under each of
  the framings "center", "same" (reflect padding) and "none" the output has the
  framing's frame count, is finite, and is as good as under "center" with the same
  padding mode: an inverter's mel-domain SC within 1 dB of it (or below -60 dB), a
  phase retriever's consistency within 3 dB of it and no worse than trivial phase.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import registry
from .errors import InputError, MelbenchError, ParameterError
from .measures import spectral_convergence_db
from .plugin import Dataset, Degradation, Inverter, Metric, PhaseRetriever, Plugin
from .signals import conformance_signal  # re-exported: plugin test suites import it from here
from .spec import FeatureSpec, get_spec

#: Small specs used by the checks (fast; the first one a plugin accepts is used).
CHECK_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                name="check16k"),
    FeatureSpec(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40, fmax=8000.0, power=1,
                window="sqrt_hann", name="check16k-sqrthann"),
    get_spec("speech16k"),
)


#: Framings every inverter and phase retriever must handle (:func:`check_framings`).
#: (framing, pad_mode); each is compared with "center" under the same padding mode
#: (reflect padding itself costs consistency at the edges, whatever the framing).
FRAMING_CHECKS: tuple[tuple[str, str], ...] = (
    ("center", "constant"), ("center", "reflect"), ("same", "reflect"), ("none", "constant"),
)


class Declined(Exception):
    """The plugin declined every check spec (its ``skip`` returned a reason)."""


def _instance(kind: str, plugin: Any) -> Plugin:
    if isinstance(plugin, str):
        return registry.create(kind, plugin)
    if isinstance(plugin, type):
        return plugin()
    return plugin


def _pick_spec(p: Plugin, specs: Iterable[FeatureSpec] = CHECK_SPECS) -> FeatureSpec:
    reasons = []
    for s in specs:
        r = p.skip(s)
        if not r:
            return s
        reasons.append(f"{s}: {r}")
    raise Declined(f"{p.label} declined every check spec: {'; '.join(reasons)}")


def _raises(exc_type: type[BaseException], fn, what: str) -> None:
    try:
        fn()
    except exc_type as exc:
        assert str(exc).strip(), f"{what}: {exc_type.__name__} raised with an empty message"
        return
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(
            f"{what}: expected {exc_type.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: no error raised")


def _sc(target: np.ndarray, est: np.ndarray) -> float:
    """:func:`melbench.measures.spectral_convergence_db`, floored at -600 dB (finite)."""
    return max(spectral_convergence_db(target, est), -600.0)


def check_inverter(plugin: Any) -> None:
    """Assert that an inverter honours melbench's inverter contract."""
    inv = _instance("inverter", plugin)
    assert isinstance(inv, Inverter), f"{inv!r} is not an Inverter"
    spec = _pick_spec(inv)
    y = conformance_signal(spec.sample_rate)
    mag = spec.magnitude(y)
    mel = spec.mel_from_magnitude(mag)
    ctx = {"reference_magnitude": mag}
    out = inv(mel, spec, context=ctx)
    label = inv.label
    assert out.shape == (spec.n_freq, mel.shape[-1]), (
        f"{label}: output shape {out.shape}, expected {(spec.n_freq, mel.shape[-1])}"
    )
    assert out.dtype == np.float32, f"{label}: float32 mel gave {out.dtype}, expected float32"
    assert np.all(np.isfinite(out)), f"{label}: non-finite output"
    assert np.all(out >= 0), f"{label}: negative magnitude (min {out.min()})"
    again = inv(mel, spec, context=ctx)
    assert np.array_equal(out, again), f"{label}: two identical calls differ (not deterministic)"
    # batch axes: two different items stacked give the per-item results
    y2 = conformance_signal(spec.sample_rate, seed=1)[::-1].copy()
    mag2 = spec.magnitude(y2)
    mel2 = spec.mel_from_magnitude(mag2)
    batch = inv(np.stack([mel, mel2]), spec, context={"reference_magnitude": np.stack([mag, mag2])})
    assert batch.shape == (2, *out.shape), f"{label}: batch output shape {batch.shape}"
    single2 = inv(mel2, spec, context={"reference_magnitude": mag2})
    for i, ref in enumerate((out, single2)):
        err = np.max(np.abs(batch[i] - ref)) / max(float(np.max(np.abs(ref))), 1e-12)
        assert err < 1e-3, f"{label}: batch item {i} differs from the single call (rel. {err:.2e})"
    # oracle: the inverted magnitude's mel is closer to the input than silence is (SC < 0 dB)
    lin = spec.decompress(mel)
    sc = _sc(lin, spec.mel_from_magnitude(out, compress=False))
    assert sc < -1.0, f"{label}: mel-domain SC of its own output is {sc:.2f} dB (>= -1 dB)"
    # clear errors
    _raises(InputError, lambda: inv(mel[:-1], spec, context=ctx), f"{label}: wrong n_mels")
    bad = mel.copy()
    bad[0, 0] = np.nan
    _raises(InputError, lambda: inv(bad, spec, context=ctx), f"{label}: NaN in the mel")


def check_phase(plugin: Any) -> None:
    """Assert that a phase retriever honours melbench's phase contract."""
    ph = _instance("phase", plugin)
    assert isinstance(ph, PhaseRetriever), f"{ph!r} is not a PhaseRetriever"
    spec = _pick_spec(ph)
    label = ph.label
    y = conformance_signal(spec.sample_rate)
    mag = spec.magnitude(y).astype(np.float32)
    x = ph(mag, spec, rng=0)
    assert x.shape == mag.shape, f"{label}: output shape {x.shape}, expected {mag.shape}"
    assert x.dtype == np.complex64, f"{label}: float32 magnitude gave {x.dtype}, expected complex64"
    assert np.all(np.isfinite(x)), f"{label}: non-finite output"
    x2 = ph(mag, spec, rng=0)
    assert np.array_equal(x, x2), f"{label}: same seed, different output (not deterministic)"
    n = y.shape[-1]
    _check_phase_batch(ph, spec, mag, x, n)
    # sanity: the synthesised signal is at least as consistent with |S| as the worse of the
    # two trivial baselines (random phase, zero phase)
    sc = _sc(mag, spec.magnitude(spec.istft(x, length=n)))
    rnd = np.random.default_rng(0).uniform(-np.pi, np.pi, mag.shape)
    sc_rand = _sc(mag, spec.magnitude(spec.istft(mag * np.exp(1j * rnd), length=n)))
    sc_zero = _sc(mag, spec.magnitude(spec.istft(mag.astype(np.complex64), length=n)))
    bound = max(sc_rand, sc_zero) + 0.5
    assert sc <= bound, f"{label}: SC {sc:.2f} dB, worse than trivial phase ({bound - 0.5:.2f} dB)"
    _check_phase_trace(ph, spec, mag)
    if getattr(ph, "warm_start", True):
        _check_true_phase_init(ph, spec, y, sc)
    _raises(InputError, lambda: ph(-mag, spec, rng=0), f"{label}: negative magnitude")
    _raises(InputError, lambda: ph(mag[:-1], spec, rng=0), f"{label}: wrong number of bins")
    _raises(InputError, lambda: ph(mag, spec, init=np.zeros((3, 3)), rng=0),
            f"{label}: misshapen warm start")


def _check_phase_batch(ph: PhaseRetriever, spec: FeatureSpec, mag: np.ndarray, x: np.ndarray,
                       n: int) -> None:
    """Two different magnitudes stacked: shapes, finiteness, and each item fits its own."""
    label = ph.label
    y2 = conformance_signal(spec.sample_rate, seed=1)[::-1].copy()  # a different signal
    mag2 = spec.magnitude(y2).astype(np.float32)
    batch = ph(np.stack([mag, mag2]), spec, rng=0)
    assert batch.shape == (2, *mag.shape), f"{label}: batch output shape {batch.shape}"
    assert np.all(np.isfinite(batch)), f"{label}: non-finite batch output"
    single2 = ph(mag2, spec, rng=0)
    mags = (mag, mag2)
    for i in range(2):
        rebuilt = spec.magnitude(spec.istft(batch[i], length=n))
        own = _sc(mags[i], rebuilt)
        # the item's own magnitude, by its modulus or by its re-analysed signal
        fit_own = min(_sc(mags[i], np.abs(batch[i])), own)
        fit_other = min(_sc(mags[1 - i], np.abs(batch[i])), _sc(mags[1 - i], rebuilt))
        assert fit_own < fit_other - 3.0, (
            f"{label}: batch item {i} fits the other item's magnitude ({fit_other:.2f} dB) about "
            f"as well as its own ({fit_own:.2f} dB): items mixed up or copied")
        alone = _sc(mags[i], spec.magnitude(spec.istft((x, single2)[i], length=n)))
        assert own <= max(alone + 6.0, -40.0), (
            f"{label}: batch item {i} SC {own:.2f} dB, single call {alone:.2f} dB "
            "(leading axes must give the per-item results)")


def _check_phase_trace(ph: PhaseRetriever, spec: FeatureSpec, mag: np.ndarray) -> None:
    """Trace records: keys and types; ``sc_true_db`` against the target itself is ``sc_db``."""
    from .phase.helpers import Trace

    label = ph.label
    trace = Trace(reference=mag)
    ph(mag, spec, rng=0, trace=trace)
    last = -1
    for rec in trace:
        assert isinstance(rec, dict), f"{label}: trace record {rec!r} is not a dict"
        it = rec.get("iter")
        assert isinstance(it, (int, np.integer)) and it >= last, (
            f"{label}: trace 'iter' {it!r} after {last} (must be a non-decreasing integer)")
        last = int(it)
        assert isinstance(rec.get("sc_db"), (float, np.floating)), (
            f"{label}: trace record without a float 'sc_db': {rec!r}")
        if "sc_true_db" in rec:
            assert abs(rec["sc_true_db"] - rec["sc_db"]) <= 0.01, (
                f"{label}: with the target as the trace's reference, sc_true_db "
                f"{rec['sc_true_db']:.3f} differs from sc_db {rec['sc_db']:.3f} (iter {it})")


def _check_true_phase_init(ph: PhaseRetriever, spec: FeatureSpec, y: np.ndarray,
                           sc_no_init: float) -> None:
    """The true STFT (and its phase alone) as warm start keep the output near-perfect."""
    label = ph.label
    n = y.shape[-1]
    true = spec.stft(y)
    mag = np.abs(true).astype(np.float32)
    for what, init in (("complex STFT", true), ("phase", np.angle(true))):
        try:
            x = ph(mag, spec, init=init, rng=0)
        except ParameterError as exc:
            assert "warm start" in str(exc) or "init" in str(exc), (
                f"{label}: warm start refused without saying so: {exc}")
            return
        sc = _sc(mag, spec.magnitude(spec.istft(x, length=n)))
        assert sc <= min(-30.0, sc_no_init - 10.0), (
            f"{label}: started from the true {what} it ends at SC {sc:.2f} dB (without a warm "
            f"start {sc_no_init:.2f} dB): the warm start is ignored or spoiled (a method that "
            "does not refine init should set warm_start = False)")


def check_metric(plugin: Any) -> None:
    """Assert that a metric returns its declared columns as floats, deterministically."""
    from .datasets.base import Clip
    from .pipeline import run_clip

    m = _instance("metric", plugin)
    assert isinstance(m, Metric), f"{m!r} is not a Metric"
    assert m.columns, f"{m.label}: declares no columns"
    spec = CHECK_SPECS[0]
    clip = Clip(id="check", audio=conformance_signal(spec.sample_rate, seconds=3.0),
                sample_rate=spec.sample_rate, meta={"source_sample_rate": spec.sample_rate})
    inv = registry.create("inverter", "pinv")
    ph = registry.create("phase", "gla", {"n_iter": 5})
    rows = [run_clip(clip, spec, inv, ph, [m], seed=0).row for _ in range(2)]
    for c in m.columns:
        assert c in rows[0], f"{m.label}: column {c!r} missing from the row"
        v = rows[0][c]
        assert isinstance(v, (float, int, np.floating, np.integer)) or v is None, (
            f"{m.label}: column {c!r} is {type(v).__name__}, expected a number"
        )
    for k in m.better:
        assert k in m.columns and m.better[k] in ("lower", "higher"), (
            f"{m.label}: better[{k!r}]={m.better[k]!r} (must name a column, 'lower' or 'higher')"
        )
    if m.name != "timing":
        for c in m.columns:
            a, b = rows[0][c], rows[1][c]
            assert (a == b) or (a != a and b != b), f"{m.label}: {c} not deterministic ({a} vs {b})"


def check_dataset(plugin: Any, spec: FeatureSpec | None = None, max_clips: int = 3) -> None:
    """Assert that a dataset yields well-formed clips (needs no required parameters)."""
    ds = _instance("dataset", plugin)
    assert isinstance(ds, Dataset), f"{ds!r} is not a Dataset"
    spec = spec or get_spec("speech16k")
    ids = set()
    for i, clip in enumerate(ds.clips(spec)):
        if i >= max_clips:
            break
        assert clip.id not in ids, f"{ds.label}: duplicate clip id {clip.id!r}"
        ids.add(clip.id)
        if clip.error:
            continue
        if clip.audio is not None:
            a = clip.audio
            assert a.ndim == 1 and a.dtype == np.float32, f"{ds.label}: audio {a.shape} {a.dtype}"
            assert clip.sample_rate == spec.sample_rate, (
                f"{ds.label}: clip at {clip.sample_rate} Hz, spec wants {spec.sample_rate}"
            )
        if clip.mel is not None:
            assert clip.mel.shape[-2] == spec.n_mels, f"{ds.label}: mel bands {clip.mel.shape}"
        assert clip.audio is not None or clip.mel is not None, f"{ds.label}: empty clip {clip.id}"
    assert ids, f"{ds.label}: yielded no clips"


def check_degradation(plugin: Any) -> None:
    """Assert that a degradation honours melbench's degradation contract.

    Parameters
    ----------
    plugin : str, type or Degradation
        A registered name (kind ``degrade``), a class (built with default parameters)
        or an instance.

    Raises
    ------
    AssertionError
        Naming the plugin, the spec form and the violation.
    """
    deg = _instance("degrade", plugin)
    assert isinstance(deg, Degradation), f"{deg!r} is not a Degradation"
    base = CHECK_SPECS[0]
    forms = (base, base.replace(compression="ln", floor=1e-5, name="check16k-ln"),
             base.replace(power=2, compression="db", floor=1e-10, name="check16k-db"))
    y = conformance_signal(base.sample_rate)
    for spec in forms:
        label = f"{deg.label} ({spec.compression} mel)"
        mel = spec.mel(y)
        before = mel.copy()
        out = deg(mel, spec, np.random.default_rng(0))
        assert np.array_equal(mel, before), f"{label}: the input mel was modified in place"
        out = np.asarray(out)
        assert out.shape == mel.shape, f"{label}: output shape {out.shape}, expected {mel.shape}"
        assert out.dtype == mel.dtype, f"{label}: {mel.dtype} mel gave {out.dtype}"
        assert np.all(np.isfinite(out)), f"{label}: non-finite output"
        if spec.compression == "none":
            assert np.all(out >= 0), f"{label}: negative values in a linear mel (min {out.min()})"
        # the same form: in the log-mel domain the change is at most 1.5x the input's spread
        # (white noise at 0 dB SNR changes it by 1x; a linear mel returned for a log one, or a
        # mel compressed twice, by 1.7x to 4x)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_in = np.log(np.maximum(spec.decompress(mel.astype(np.float64)), spec.floor))
            log_out = np.log(np.maximum(spec.decompress(out.astype(np.float64)), spec.floor))
        change = float(np.sqrt(np.mean((log_out - log_in) ** 2)))
        spread = float(np.std(log_in))
        assert np.isfinite(change) and change <= 1.5 * spread, (
            f"{label}: the log mel changed by {change:.3g} RMS (input std {spread:.3g}): the "
            f"output is not in the input's form (domain/compression)")
        again = deg(mel, spec, np.random.default_rng(0))
        assert np.array_equal(out, again), f"{label}: same seed, different output"
        batch = np.asarray(deg(np.stack([mel, mel[..., ::-1]]), spec, np.random.default_rng(0)))
        assert batch.shape == (2, *mel.shape), f"{label}: batch output shape {batch.shape}"
        assert np.all(np.isfinite(batch)), f"{label}: non-finite batch output"
        if deg.name == "none":
            assert np.array_equal(out, mel), f"{label}: 'none' changed the mel"


def _framing_specs(p: Plugin) -> list[FeatureSpec]:
    base = _pick_spec(p)
    specs = [base.replace(framing=f, pad_mode=m, name=f"{base.name}-{f}-{m}")
             for f, m in FRAMING_CHECKS]
    declined = [f"{s.framing}: {r}" for s in specs if (r := p.skip(s))]
    assert not declined, f"{p.label} declines a framing: {'; '.join(declined)}"
    return specs


def check_framings(kind: str, plugin: Any) -> None:
    """Assert that an inverter or phase retriever works under every framing.

    Each spec of :data:`FRAMING_CHECKS` (the plugin's check spec with that framing) is
    used to make the magnitude / mel of :func:`conformance_signal`; the result must have
    the framing's frame count, be finite and score about as well as under "center"
    (see the module notes). Raises ``AssertionError`` naming the framing.
    """
    p = _instance(kind, plugin)
    specs = _framing_specs(p)
    scores = {}
    for spec in specs:
        label = f"{p.label} ({spec.framing} framing, {spec.pad_mode} padding)"
        ref_key = ("center", spec.pad_mode if spec.framing != "none" else "constant")
        y = conformance_signal(spec.sample_rate)
        n = y.shape[-1]
        mag = spec.magnitude(y).astype(np.float32)
        assert mag.shape[-1] == spec.n_frames(n), f"{label}: spec.stft frame count"
        if kind == "inverter":
            mel = spec.mel_from_magnitude(mag)
            out = p(mel, spec, context={"reference_magnitude": mag})
            assert out.shape == mag.shape, f"{label}: output shape {out.shape}, expected {mag.shape}"
            assert np.all(np.isfinite(out)), f"{label}: non-finite output"
            score = _sc(spec.decompress(mel), spec.mel_from_magnitude(out, compress=False))
            scores[spec.framing, spec.pad_mode] = score
            bound = max(scores[ref_key] + 1.0, -60.0)
        else:
            x = p(mag, spec, rng=0)
            assert x.shape == mag.shape, f"{label}: output shape {x.shape}, expected {mag.shape}"
            assert np.all(np.isfinite(x)), f"{label}: non-finite output"
            sig = spec.istft(x, length=n)
            assert sig.shape == (n,), f"{label}: istft length {sig.shape}"
            score = scores[spec.framing, spec.pad_mode] = _sc(mag, spec.magnitude(sig))
            rnd = np.random.default_rng(0).uniform(-np.pi, np.pi, mag.shape)
            trivial = max(
                _sc(mag, spec.magnitude(spec.istft(mag * np.exp(1j * rnd), length=n))),
                _sc(mag, spec.magnitude(spec.istft(mag.astype(np.complex64), length=n))))
            assert score <= trivial + 0.5, (
                f"{label}: SC {score:.2f} dB, worse than trivial phase ({trivial:.2f} dB)")
            bound = scores[ref_key] + 3.0
        assert score <= bound, (
            f"{label}: SC {score:.2f} dB, much worse than with centre framing "
            f"({scores[ref_key]:.2f} dB): the framing is not handled")


CHECKS = {
    "inverter": check_inverter,
    "phase": check_phase,
    "metric": check_metric,
    "dataset": check_dataset,
    "degrade": check_degradation,
}


def check_plugin(kind: str, name: str) -> None:
    """Run the conformance check of ``kind`` on registered plugin ``name``.

    Raises
    ------
    Declined
        If the plugin declines every check spec, or needs parameters to be built.
    AssertionError
        On a contract violation (the message names it).
    """
    try:
        plugin = registry.create(kind, name)
    except (ParameterError, MelbenchError) as exc:
        raise Declined(f"{kind} {name!r} cannot be built with default parameters: {exc}") from exc
    CHECKS[kind](plugin)
