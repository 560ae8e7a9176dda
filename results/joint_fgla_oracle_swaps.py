"""Where ``joint_fgla`` loses PESQ: its magnitude and phase swapped with the truth, by region.

Run from the repository root::

    .venv/bin/python results/joint_fgla_oracle_swaps.py SET [SPEC] [N_ITER]

``SET`` as in ``results/joint_fgla_quality.py`` (``bundled``, ``suite``, ``suiteN``; speech
clips only), ``SPEC`` default ``speech16k``, ``N_ITER`` joint iterations (default 200). Per
clip it runs ``joint_fgla_inverse`` once (magnitude ``s``, complex estimate ``x``) and
scores (mean PESQ-wb over the clips):

* ``joint+fgla32``: the default pipeline's tail (``fgla:32`` on ``s`` from ``x``);
* ``jmag+truephase`` / ``truemag+jphase``, with and without ``fgla:32`` after them: which
  half of the estimate is the bottleneck;
* ``truemag[a,b)``: the true magnitude in FFT bins ``[a, b)``, ``s`` elsewhere, then
  ``fgla:32`` from ``x`` (where a better magnitude would pay);
* ``jphase only [a,b)``: ``s`` with the joint phase in ``[a, b)`` and the true phase
  elsewhere, no iteration (where the joint phase costs PESQ).

The numbers are quoted in ``results/joint_fgla_quality.md``.
"""

from __future__ import annotations

import sys

import numpy as np
from joint_fgla_quality import _clips
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _pesq
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.phase.projections import fgla
from melbench.spec import get_spec

REGIONS = ((0, 20), (20, 64), (64, 128), (128, 256), (256, None))


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.abs(z), 1e-12)


def main(argv: list[str]) -> int:
    """Print the mean PESQ-wb of every swap (``argv`` = SET [SPEC] [N_ITER])."""
    which = argv[0]
    spec = get_spec(argv[1] if len(argv) > 1 else "speech16k")
    n_iter = int(argv[2]) if len(argv) > 2 else 200
    res: dict[str, list[float]] = {}
    with threadpool_limits(1):
        for _cid, kind, y in _clips(which, spec):
            if kind != "speech":
                continue
            n = len(y)
            mag, X = spec.magnitude(y), spec.stft(y)
            s, x = joint_fgla_inverse(spec.mel_from_magnitude(mag), spec, n_iter=n_iter)
            pt, pj = _unit(X), _unit(x)
            bins = np.arange(s.shape[0])[:, None]

            def tail(m, init, n=n):
                return spec.istft(fgla(m, spec, n_iter=32, init=init), length=n)

            outs = {"joint+fgla32": tail(s, x),
                    "jmag+truephase": spec.istft(s * pt, length=n),
                    "jmag+truephase+fgla32": tail(s, s * pt),
                    "truemag+jphase": spec.istft(mag * pj, length=n),
                    "truemag+jphase+fgla32": tail(mag, mag * pj)}
            for a, b in REGIONS:
                inside = (bins >= a) & (bins < (b or s.shape[0]))
                outs[f"truemag[{a},{b or 'end'})+fgla32"] = tail(np.where(inside, mag, s), x)
                outs[f"jphase only [{a},{b or 'end'})"] = spec.istft(s * np.where(inside, pj, pt), length=n)
            for k, o in outs.items():
                res.setdefault(k, []).append(_pesq(spec, y, o))
    for k, v in res.items():
        print(f"{k:32s} n={len(v):3d} PESQ {np.mean(v):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
