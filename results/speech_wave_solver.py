"""Time of the waveform refinement's pieces, side by side (issue 16, round 9).

Run from the repository root::

    .venv/bin/python results/speech_wave_solver.py

On the bundled CMU ARCTIC clip's first 2 s at speech16k (one thread, CPU time, best of 5):
40 FFT pairs (``spec.istft(spec.stft(x))``), 40 loss-and-gradient evaluations
(:func:`melbench.inverters.waveform_refine.mel_loss_grad`, float32), and 40 iterations of
``refine_waveform`` with its own L-BFGS and with scipy's L-BFGS-B, with the final loss
of each (the two solvers should reach about the same).
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import clips_for
from melbench.inverters.waveform_refine import mel_loss_grad, refine_waveform
from melbench.spec import get_spec


def _best(f, repeat: int = 5) -> float:
    ts = []
    for _ in range(repeat):
        t = time.process_time()
        f()
        ts.append(time.process_time() - t)
    return min(ts)


def main() -> int:
    """Print the timings."""
    spec = get_spec("speech16k")
    (_, _, y), = clips_for(spec, ["cmu_arctic_a0007"], False, 2.0)
    mel = spec.mel_from_magnitude(spec.magnitude(y), compress=False)
    x0 = (y + 0.01 * np.random.default_rng(0).standard_normal(y.size)).astype(np.float32)
    m64 = np.asarray(mel, np.float64)
    with threadpool_limits(1):
        refine_waveform(x0, mel, spec, n_iter=3, compression="identity")
        print(f"40 FFT pairs           {_best(lambda: [spec.istft(spec.stft(x0)) for _ in range(40)]):.4f} s")
        t = _best(lambda: [mel_loss_grad(x0, mel, spec, compression="identity") for _ in range(40)])
        print(f"40 loss+gradient       {t:.4f} s")
        for solver in ("own", "scipy"):
            def run(solver=solver):
                return refine_waveform(x0, mel, spec, n_iter=40, compression="identity", solver=solver)
            t = _best(run)
            out = run()
            loss = mel_loss_grad(out.astype(np.float64), m64, spec, compression="identity")[0]
            print(f"40 iterations, {solver:5s}  {t:.4f} s  final loss {loss:.3e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
