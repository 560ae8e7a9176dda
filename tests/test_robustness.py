"""The default cell never loses to ``nnls`` + ``fgla`` by more than the issue's bounds.

On a short bundled speech clip (PESQ-wb and SC) and the synthetic vibrato tone (SC),
at two presets, on the clean mel and on degraded mels (log-mel noise, smoothing,
quantisation): the guard behind ``results/bench_pipelines.md``'s robustness line.
"""

from __future__ import annotations

import numpy as np
import pytest

from melbench import quality
from melbench.bench.pipelines import TRACKS, _measure
from melbench.datasets.bundled import Bundled
from melbench.datasets.synthetic import synthetic_signal
from melbench.degrade import create as degradation
from melbench.metrics.spectral import spectral_convergence_db
from melbench.spec import get_spec


def _material(spec):
    clip = next(Bundled(ids=["cmu_arctic_a0007"]).clips(spec))
    speech = np.ascontiguousarray(clip.audio[int(0.5 * spec.sample_rate): int(2.0 * spec.sample_rate)])
    tone = synthetic_signal("harmonic", spec.sample_rate, 1.0, seed=0)
    return [("arctic", "speech", speech), ("harmonic", "synthetic", tone)]


@pytest.mark.parametrize("spec_name", ["speech16k", "tts22k"])
def test_default_is_never_worse_than_nnls_fgla(spec_name):
    spec = get_spec(spec_name)
    default = quality.preset()
    assert default.label != quality.REFERENCE_CELL
    failures = []
    for clip_id, kind, audio in _material(spec):
        true_mag = spec.magnitude(audio)
        clean = spec.mel_from_magnitude(true_mag)
        for track, (dname, dparams) in TRACKS.items():
            mel = degradation(dname, dparams)(clean, spec, np.random.default_rng([0, 1]))
            rows = {c: _measure(c, spec, spec_name, track, clip_id, kind, audio, true_mag, mel, 0,
                                spectral_convergence_db)
                    for c in (default.label, quality.REFERENCE_CELL)}
            d, r = rows[default.label], rows[quality.REFERENCE_CELL]
            assert d["status"] == "ok" and r["status"] == "ok", (d["error"], r["error"])
            if d["sc_db"] > r["sc_db"] + quality.ISSUE_SC_DB:
                failures.append(f"{clip_id}/{track}: SC {d['sc_db']:.2f} vs {r['sc_db']:.2f}")
            if kind == "speech" and d["pesq_wb"] < r["pesq_wb"] - quality.ISSUE_PESQ:
                failures.append(f"{clip_id}/{track}: PESQ {d['pesq_wb']:.2f} vs {r['pesq_wb']:.2f}")
    assert not failures, failures
