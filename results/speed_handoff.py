"""What ``joint_tcr``'s first-run ``final_steps`` (the hand-off to the restart) buy: quality and time.

Run from the repository root::

    .venv/bin/python results/speed_handoff.py suite30 speech16k [--steps 100 30 10 0]
    .venv/bin/python results/speed_handoff.py bundled hifigan_v1

``joint_tcr`` runs ``joint_tc`` (200 iterations, then ``final_steps`` = 100 mel steps), then
30 restarted plain joint iterations and 100 more mel steps; the restart's iterations enforce
the mel again, so the 100 steps at the hand-off may be worth little. This measures
``joint_tcr_inverse(..., handoff_steps=h)`` for each ``h`` (100 = today) on the same clips:
its complex estimate straight to audio (the default cell's ``fgla:0`` phase stage), PESQ-wb
on speech (``melbench.bench.pipelines``' PESQ), SC of the output's magnitude against the
true one (``melbench.measures.spectral_convergence_db``) and CPU seconds (one thread). The
inner method alone, without the guard (the guard keeps it on most clean clips). ``SET`` as
``results/joint_fgla_quality.py``: ``bundled`` (first 4 s) or ``suiteN``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _pesq, clips_for
from melbench.inverters.joint_restart import joint_tcr_inverse
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec


def _clips(which: str, spec):
    if which == "bundled":
        return clips_for(spec, None, False, 4.0)
    from melbench.datasets.eval_suite import EvalSuite

    n = int(which[5:] or 0)
    clips = [(c.id, c.meta.get("kind", ""), np.asarray(c.audio, np.float32))
             for c in EvalSuite().clips(spec) if not c.error and c.meta.get("kind") == "speech"]
    return clips[:: max(1, len(clips) // n)][:n] if n else clips


def main(argv: list[str] | None = None) -> int:
    """Measure each hand-off and print per-kind means and the differences to today's."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("set")
    p.add_argument("spec")
    p.add_argument("--steps", nargs="+", type=int, default=[100, 30, 10, 0])
    args = p.parse_args(argv)
    spec = get_spec(args.spec)
    res: dict[int, dict[str, list]] = {h: {} for h in args.steps}
    with threadpool_limits(1):
        joint_tcr_inverse(spec.mel(np.zeros(spec.sample_rate // 4, np.float32) + 1e-3), spec)
        for cid, kind, y in _clips(args.set, spec):
            mag = spec.magnitude(y)
            mel = spec.decompress(spec.mel_from_magnitude(mag))  # the inverters take the linear mel
            line = f"{cid[:28]:28s} {kind:9s}"
            for h in args.steps:
                t0 = time.process_time()
                _, x = joint_tcr_inverse(mel, spec, handoff_steps=h)
                out = np.asarray(spec.istft(x, length=len(y)), np.float32)
                sec = time.process_time() - t0
                sc = spectral_convergence_db(mag, spec.magnitude(out))
                pq = _pesq(spec, y, out) if kind == "speech" else float("nan")
                for key, v in (("sc", sc), ("pesq", pq), ("sec", sec)):
                    res[h].setdefault(f"{kind}:{key}", []).append(v)
                line += f" | h={h}: PESQ {pq:5.2f} SC {sc:7.2f} {sec:5.2f} s"
            print(line, flush=True)
    base = args.steps[0]
    print(f"\nmeans ({args.set}, {args.spec}); differences against handoff_steps={base}, clip by clip:")
    for h in args.steps:
        parts = []
        for key in sorted(res[h]):
            v = np.asarray(res[h][key])
            if np.all(np.isnan(v)):
                continue
            d = v - np.asarray(res[base][key])
            parts.append(f"{key} {np.nanmean(v):.3f} (diff {np.nanmean(d):+.3f}, min {np.nanmin(d):+.3f}, "
                         f"max {np.nanmax(d):+.3f})")
        print(f"handoff_steps={h}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
