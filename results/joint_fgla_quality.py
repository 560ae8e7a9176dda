"""Mean PESQ-wb / true-magnitude SC / CPU seconds of pipeline cells, on the bundled clips or the suite.

Run from the repository root::

    .venv/bin/python results/joint_fgla_quality.py SET SPEC CELL [CELL ...]

``SET`` is ``bundled`` (the bundled clips, first 4 s, as ``melbench bench pipelines``) or
``suite`` / ``suiteN`` (the evaluation suite's speech clips, all or N evenly spaced; needs
``make eval-data``). Cells are ``melbench bench pipelines`` cells (``librosa`` for
``mel_to_audio``), run exactly as that benchmark runs them (same call, one thread, CPU
time after a warm-up, PESQ via ``melbench.bench.pipelines``, SC via
``melbench.measures.spectral_convergence_db`` against the true magnitude). Prints one
line per clip and cell (``bundled``) and the means per clip kind. The numbers quoted in
``results/joint_fgla_quality.md`` were made with it. With ``librosa`` among the cells, each
mean line also gives the mean and maximum over clips of the cell's time over librosa's on
the same clip.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _librosa_call, _pesq, clips_for
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


def main(argv: list[str]) -> int:
    """Measure the cells (``argv`` = SET SPEC CELL...) and print the means."""
    which, spec_name, cells = argv[0], argv[1], argv[2:]
    spec = get_spec(spec_name)
    res: dict[str, dict[str, list]] = {c: {} for c in cells}
    with threadpool_limits(1):
        for cid, kind, y in _clips(which, spec):
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            for cell in cells:
                if cell == "librosa":
                    fn, arg = _librosa_call(spec, len(y)), spec.decompress(mel)
                    _librosa_call(spec, None)(arg[..., :16])
                else:
                    fn, arg = _cell_call(cell, spec, len(y), mag, 0), mel
                    fn(arg[..., :16])
                t0 = time.process_time()
                out = np.asarray(fn(arg), np.float32)[: len(y)]
                dt = time.process_time() - t0
                sc = spectral_convergence_db(mag, spec.magnitude(out))
                p = _pesq(spec, y, out) if kind == "speech" else np.nan
                res[cell].setdefault(kind, []).append((p, sc, dt))
                if which == "bundled":
                    print(f"{cid[:24]:24s} {cell:50s} PESQ {p:5.2f} SC {sc:7.2f} {dt:6.3f}s", flush=True)
    for cell in cells:
        for kind, v in res[cell].items():
            a = np.array(v)
            pesq = np.nanmean(a[:, 0]) if kind == "speech" else float("nan")
            ratio = ""
            if "librosa" in res and cell != "librosa":  # per clip, against librosa on the same clip
                r = a[:, 2] / np.array(res["librosa"][kind])[:, 2]
                ratio = f" x librosa mean {r.mean():.2f} max {r.max():.2f}"
            print(f"MEAN {kind:7s} {cell:50s} n={len(a):3d} PESQ {pesq:5.3f} SC {a[:, 1].mean():7.2f} "
                  f"s {a[:, 2].mean():6.3f}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
