"""CPU time of the default cell against librosa ``mel_to_audio``, per clip, repeated (issue 16).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python results/guard_time.py [--repeat 3] [SPEC ...]

For every spec (default: hifigan_v1 bigvgan_44k_128 bigvgan_24k_100 speech16k) and every
clip of ``melbench bench pipelines`` (its five default clips, 2.5 s crops, clean mels), the
cells below and librosa ``mel_to_audio`` run exactly as the benchmark runs them
(``melbench.bench.pipelines._cell_call`` / ``_librosa_call``, one thread, after a warm-up),
interleaved, ``--repeat`` times each; the table gives each cell's minimum CPU time over its
repeats divided by librosa's minimum on the same clip (the benchmark itself times one call,
so its single ratios move by about +-20 % on this shared machine). The guard's record
(choice, where the probe stopped the fallback) is printed for the default cell.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _librosa_call, clips_for
from melbench.spec import get_spec

CELLS = ("nnls+fgla:100", "joint_tc+fgla:32",
         "guarded:200:inner=joint_tc:probe=false:fallback_final=false+fgla:32",
         "guarded:200:inner=joint_tc+fgla:32")
CLIPS = ["cmu_arctic_a0007", "allison_vm-review", "allison_tt-allbusy", "vibe_ace_00-08s",
         "synthetic_harmonic"]


def main() -> None:
    """Print the table (markdown) of per-clip ratios to librosa's time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=["hifigan_v1", "bigvgan_44k_128", "bigvgan_24k_100",
                                                 "speech16k"])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    names = ["librosa", *CELLS]
    print("| spec | clip | " + " | ".join(f"`{c}`" for c in CELLS) + " | guard (default cell) |")
    print("|---|---|" + "---|" * (len(CELLS) + 1))
    worst = {c: 0.0 for c in CELLS}
    with threadpool_limits(1):
        for spec_name in args.specs:
            spec = get_spec(spec_name)
            for clip_id, _kind, y in clips_for(spec, CLIPS, True, 2.5):
                mag = spec.magnitude(y)
                mel = spec.mel_from_magnitude(mag)
                last: dict = {}
                fns = {"librosa": (_librosa_call(spec, len(y), 0), spec.decompress(mel))}
                for c in CELLS:
                    fns[c] = (_cell_call(c, spec, len(y), mag, 0, last if c == CELLS[-1] else None), mel)
                for n in names:  # warm-up (compilation, caches)
                    fns[n][0](fns[n][1])
                best = {n: np.inf for n in names}
                for _ in range(args.repeat):
                    for n in names:
                        t0 = time.process_time()
                        fns[n][0](fns[n][1])
                        best[n] = min(best[n], time.process_time() - t0)
                g = last["ctx"].get("guard", {})
                note = g.get("chosen", "")
                if g.get("stopped"):
                    note += f", fallback stopped after {g['probe_iter']}"
                elif np.isfinite(g.get("fallback", np.nan)):
                    note += ", fallback ran in full"
                ratios = {c: best[c] / best["librosa"] for c in CELLS}
                for c in CELLS:
                    worst[c] = max(worst[c], ratios[c])
                print(f"| {spec_name} | {clip_id} | " + " | ".join(f"{ratios[c]:.2f}" for c in CELLS)
                      + f" | {note} |", flush=True)
    print("| max | | " + " | ".join(f"{worst[c]:.2f}" for c in CELLS) + " | |")


if __name__ == "__main__":
    main()
