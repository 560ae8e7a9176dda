"""Where the default cell loses PESQ at narrowband8k: its magnitude and phase swapped with the truth.

Run from the repository root::

    .venv/bin/python results/narrowband8k_swaps.py SET [SPEC] [CELL]

``SET`` as in ``results/joint_fgla_quality.py`` (``bundled``, ``suite``, ``suiteN``; speech
clips only), ``SPEC`` default ``narrowband8k``, ``CELL`` default the default cell
``guarded:200:inner=joint_tcr+fgla:0``. Per clip it runs the cell's inverter once (its
magnitude ``s`` and the complex estimate ``x`` it hands to the phase stage) and scores
(mean PESQ-wb over the clips), as ``results/joint_fgla_oracle_swaps.py`` does at speech16k
but with regions in Hz (the same Hz regions at any rate):

* ``cell``: the cell's own audio;
* ``smag+truephase`` / ``truemag+xphase``, with and without ``fgla:32`` after them: which
  half of the estimate is the bottleneck;
* ``truemag[a,b)Hz+fgla32``: the true magnitude in ``[a, b)`` Hz, ``s`` elsewhere, then
  ``fgla:32`` from ``x`` (where a better magnitude would pay); ``truemag>=a`` /
  ``truemag<a``: the same above / below ``a`` Hz;
* ``xphase only [a,b)Hz``: ``s`` with the cell's phase in ``[a, b)`` and the true phase
  elsewhere, no iteration (where the phase costs PESQ);
* ``truemag[...]+xphase``: the true magnitude in the region with ``x``'s phase everywhere,
  no iteration (the magnitude alone, before any phase follows it).

The numbers are quoted in ``results/narrowband8k.md``.
"""

from __future__ import annotations

import sys

import numpy as np
from joint_fgla_quality import _clips
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import _pesq, parse_cell
from melbench.phase.projections import fgla
from melbench.plugin import phase_stage
from melbench.spec import get_spec

REGIONS_HZ = ((0, 250), (250, 500), (500, 1000), (1000, 2000), (2000, 3000), (3000, None))
SPLITS_HZ = (500, 1000, 1500, 2000)


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.abs(z), 1e-12)


def main(argv: list[str]) -> int:
    """Print the mean PESQ-wb of every swap (``argv`` = SET [SPEC] [CELL])."""
    which = argv[0]
    spec = get_spec(argv[1] if len(argv) > 1 else "narrowband8k")
    cell = argv[2] if len(argv) > 2 else "guarded:200:inner=joint_tcr+fgla:0"
    inv_name, inv_params, ph_name, ph_params = parse_cell(cell)
    res: dict[str, list[float]] = {}
    hz = np.arange(spec.n_freq)[:, None] * spec.sample_rate / spec.n_fft
    with threadpool_limits(1):
        for cid, kind, y in _clips(which, spec):
            if kind != "speech":
                continue
            n = len(y)
            mag, X = spec.magnitude(y), spec.stft(y)
            mel = spec.mel_from_magnitude(mag)
            inv = registry.create("inverter", inv_name, inv_params)
            ctx: dict = {"reference_magnitude": mag}
            s = np.asarray(inv(mel, spec, context=ctx))
            ph = registry.create("phase", ph_name, ph_params)
            cell_audio = spec.istft(phase_stage(ph, s, spec, dict(ctx), rng=0), length=n)
            x = ctx.get("phase_init")
            if x is None:
                x = fgla(s, spec, n_iter=100, rng=0)
            pt, px = _unit(X), _unit(x)

            def tail(m, init, n=n):
                return spec.istft(fgla(m, spec, n_iter=32, init=init), length=n)

            outs = {"cell": cell_audio,
                    "smag+truephase": spec.istft(s * pt, length=n),
                    "smag+truephase+fgla32": tail(s, s * pt),
                    "truemag+xphase": spec.istft(mag * px, length=n),
                    "truemag+xphase+fgla32": tail(mag, mag * px)}
            for a, b in REGIONS_HZ:
                inside = (hz >= a) & (hz < (b or np.inf))
                tag = f"[{a},{b or 'end'})Hz"
                outs[f"truemag{tag}+fgla32"] = tail(np.where(inside, mag, s), x)
                outs[f"truemag{tag}+xphase"] = spec.istft(np.where(inside, mag, s) * px, length=n)
                outs[f"xphase only {tag}"] = spec.istft(s * np.where(inside, px, pt), length=n)
            for a in SPLITS_HZ:
                outs[f"truemag>={a}Hz+fgla32"] = tail(np.where(hz >= a, mag, s), x)
                outs[f"truemag<{a}Hz+fgla32"] = tail(np.where(hz < a, mag, s), x)
            guard = ctx.get("guard", {})
            line = [f"{cid[:28]:28s} chosen={guard.get('chosen', '-')} "
                    f"blend={guard.get('blend', float('nan')):.3f}"]
            for k, o in outs.items():
                p = _pesq(spec, y, o)
                res.setdefault(k, []).append(p)
                if k == "cell":
                    line.append(f"cell {p:.3f}")
            print(" ".join(line), flush=True)
    for k, v in res.items():
        print(f"{k:34s} n={len(v):3d} PESQ {np.mean(v):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
