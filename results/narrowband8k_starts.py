"""``joint_tcr`` at narrowband8k from other starts and with other prior schedules.

Run from the repository root::

    .venv/bin/python results/narrowband8k_starts.py SET [SPEC]

``SET`` as in ``results/joint_fgla_quality.py`` (speech clips only), ``SPEC`` default
``narrowband8k``. Each variant is ``joint_tc_inverse`` (200 iterations) then
``joint_tcr``'s restart (30 iterations), its magnitude with its phase to audio (as the
cell ``joint_tcr+fgla:0``); the starts are the ``nnls`` magnitude with zero phase
(``joint_fgla``'s own start), with the phase of PGHI, of RTISI-LA (``rtisi_la`` plugin
defaults) or of LWS on it. Prints mean PESQ-wb and CPU seconds (one thread) per variant.
Quoted in ``results/narrowband8k.md``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from joint_fgla_quality import _clips
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.bench.pipelines import _pesq
from melbench.inverters.joint_continuity import joint_tc_inverse
from melbench.inverters.joint_restart import restart
from melbench.inverters.nnls import mel_nnls_inverse
from melbench.spec import get_spec

VARIANTS = {  # name: (start, prior_iter)
    "nnls start, prior 150 (joint_tcr)": (None, 150),
    "nnls start, prior 50": (None, 50),
    "pghi start, prior 150": ("pghi", 150),
    "pghi start, prior 50": ("pghi", 50),
    "rtisi_la start, prior 50": ("rtisi_la", 50),
    "lws start, prior 50": ("lws", 50),
}


def main(argv: list[str]) -> int:
    """Print mean PESQ-wb and seconds per variant (``argv`` = SET [SPEC])."""
    which = argv[0]
    spec = get_spec(argv[1] if len(argv) > 1 else "narrowband8k")
    res: dict[str, list[tuple[float, float]]] = {}
    with threadpool_limits(1):
        for cid, kind, y in _clips(which, spec):
            if kind != "speech":
                continue
            mel = spec.decompress(spec.mel_from_magnitude(spec.magnitude(y)))
            line = [f"{cid[:24]:24s}"]
            for name, (start, prior_iter) in VARIANTS.items():
                t0 = time.process_time()
                init = None
                if start is not None:
                    m0 = mel_nnls_inverse(mel, spec)
                    init = np.asarray(registry.create("phase", start, {})(m0, spec, rng=0))
                    init = init.astype(np.complex64)
                s, x = joint_tc_inverse(mel, spec, prior_iter=prior_iter, init=init)
                s, x = restart(mel, spec, x, n_iter=30)
                dt = time.process_time() - t0
                audio = spec.istft(s * x / np.maximum(np.abs(x), 1e-12), length=len(y))
                p = _pesq(spec, y, audio)
                res.setdefault(name, []).append((p, dt))
                line.append(f"{p:.2f}")
            print(" ".join(line), flush=True)
    for name, v in res.items():
        a = np.array(v)
        print(f"MEAN {name:36s} n={len(a):3d} PESQ {a[:, 0].mean():.3f} s {a[:, 1].mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
