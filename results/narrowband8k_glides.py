"""True-magnitude SC of ``joint_tcr`` against ``joint_tcf`` on synthetic gliding harmonic tones.

Run from the repository root::

    .venv/bin/python results/narrowband8k_glides.py [SPEC]

``SPEC`` default ``narrowband8k``. Each tone is ``sum_k sin(k phi(t)) / k`` (partials up to
3.5 kHz), ``phi`` the integral of ``2 pi F0(t)`` with F0 gliding linearly, times
``hann^0.25``. Cells: ``nnls+fgla:100`` and ``joint_tcr`` / ``joint_tcf`` (alone and as
the guard's inner) with ``fgla:0``. Prints the SC (dB) per tone. Quoted in
``results/narrowband8k.md``.
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.measures import spectral_convergence_db
from melbench.plugin import phase_stage
from melbench.spec import get_spec

GLIDES = ((120, 220, 1.5), (200, 120, 1.5), (150, 300, 2.0), (100, 140, 1.5))  # F0 start, end (Hz), seconds
CELLS = (("nnls", {}, 100), ("joint_tcr", {}, 0), ("joint_tcf", {}, 0),
         ("guarded", {"inner": "joint_tcr"}, 0), ("guarded", {"inner": "joint_tcf"}, 0))


def main(argv: list[str]) -> int:
    """Print the SC of every cell on every glide (``argv`` = [SPEC])."""
    spec = get_spec(argv[0] if argv else "narrowband8k")
    sr = spec.sample_rate
    print("F0 glide        " + " ".join(f"{n}{'+' + p['inner'] if p else ''}" for n, p, _ in CELLS))
    with threadpool_limits(1):
        for f0a, f0b, secs in GLIDES:
            t = np.arange(int(secs * sr)) / sr
            phi = 2 * np.pi * np.cumsum(f0a + (f0b - f0a) * t / secs) / sr
            y = sum(np.sin(k * phi) / k for k in range(1, int(3500 // max(f0a, f0b))))
            y = (0.3 * y * np.hanning(len(t)) ** 0.25).astype(np.float32)
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            row = []
            for name, params, n_iter in CELLS:
                ctx: dict = {}
                s = registry.create("inverter", name, params)(mel, spec, context=ctx)
                x = phase_stage(registry.create("phase", "fgla", {"n_iter": n_iter}), s, spec, ctx, rng=0)
                row.append(spectral_convergence_db(mag, spec.magnitude(spec.istft(x, length=len(y)))))
            print(f"{f0a}->{f0b} Hz {secs} s " + " ".join(f"{v:7.2f}" for v in row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
