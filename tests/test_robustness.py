"""The default cell never loses to ``nnls`` + ``fgla`` by more than the issue's bounds.

On the bundled speech clip (PESQ-wb and SC) and the synthetic vibrato tone (SC),
at two presets, on the clean mel and on degraded mels (log-mel noise, smoothing,
quantisation), with issue 16's bounds: the guard behind the robustness line of
``results/bench_pipelines.md`` (which also lists where it fails: smoothed music).
"""

from __future__ import annotations

import numpy as np
import pytest

from melbench import quality, registry
from melbench.bench.pipelines import TRACKS, _measure, clips_for
from melbench.metrics.spectral import spectral_convergence_db
from melbench.spec import get_spec


def _material(spec):
    """The bundled CMU ARCTIC clip (4 s) and the synthetic tone, as the benchmark cuts them."""
    return clips_for(spec, ["cmu_arctic_a0007", "synthetic_harmonic"], True, 4.0)


def _short(spec):
    """1.5 s of the bundled CMU ARCTIC clip and 1 s of the synthetic tone (the fast check)."""
    return [(c, k, y[int(0.5 * spec.sample_rate): int((2.0 if k == "speech" else 1.5) * spec.sample_rate)])
            for c, k, y in _material(spec)]


def _failures(spec_name, material, pesq_tracks):
    spec = get_spec(spec_name)
    default = quality.preset()
    assert default.label != quality.REFERENCE_CELL
    failures = []
    for clip_id, kind, audio in material(spec):
        true_mag = spec.magnitude(audio)
        clean = spec.mel_from_magnitude(true_mag)
        for track, (dname, dparams) in TRACKS.items():
            mel = registry.create("degrade", dname, dparams)(clean, spec, np.random.default_rng([0, 1]))
            rows = {c: _measure(c, spec, spec_name, track, clip_id, kind, audio, true_mag, mel, 0,
                                spectral_convergence_db)
                    for c in (default.label, quality.REFERENCE_CELL)}
            d, r = rows[default.label], rows[quality.REFERENCE_CELL]
            assert d["status"] == "ok" and r["status"] == "ok", (d["error"], r["error"])
            if d["sc_db"] > r["sc_db"] + quality.ISSUE_SC_DB:
                failures.append(f"{clip_id}/{track}: SC {d['sc_db']:.2f} vs {r['sc_db']:.2f}")
            if (kind == "speech" and track in pesq_tracks
                    and d["pesq_wb"] < r["pesq_wb"] - quality.ISSUE_PESQ):
                failures.append(f"{clip_id}/{track}: PESQ {d['pesq_wb']:.2f} vs {r['pesq_wb']:.2f}")
    return failures


@pytest.mark.parametrize("spec_name", ["speech16k", "tts22k"])
def test_default_is_never_worse_than_nnls_fgla_short(spec_name):
    """Short material, every track for SC; PESQ on every track but the smoothed mel.

    Measured exception (why ``smooth1`` is left out of the PESQ check here): on this
    1.5 s slice at tts22k the smoothed mel gives PESQ-wb 1.28 against 1.49 for
    ``nnls`` + ``fgla`` (on the whole 4 s clip, checked below, the default is better).
    """
    assert not _failures(spec_name, _short, ("clean", "noise20", "quant6"))


@pytest.mark.slow
@pytest.mark.parametrize("spec_name", ["speech16k", "tts22k"])
def test_default_is_never_worse_than_nnls_fgla(spec_name):
    """The benchmark's material (4 s), both bounds on every track."""
    assert not _failures(spec_name, _material, tuple(TRACKS))
