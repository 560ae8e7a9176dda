"""True-magnitude SC / CPU seconds of pipeline cells on the bundled music excerpt or the suite's music.

Run from the repository root::

    .venv/bin/python results/music_phase.py SET SPEC CELL [CELL ...]

``SET`` is ``vibe`` (the bundled music excerpt ``vibe_ace_00-08s``, first 4 s, as
``melbench bench pipelines``) or ``music`` / ``musicN`` (the evaluation suite's music
clips, all 51 or N evenly spaced; needs ``make eval-data``). Cells are ``melbench bench
pipelines`` cells (``librosa`` for ``mel_to_audio``), run as that benchmark runs them
(same call, one thread, CPU time after a warm-up; SC via
``melbench.measures.spectral_convergence_db`` against the true magnitude). Prints one
line per clip and the mean per cell, with how many clips are more than 0.3 dB worse /
better than the first cell. The numbers in ``results/music_phase.md`` were made with it
(the speech side with ``results/joint_fgla_quality.py``).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _librosa_call, clips_for
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec


def _clips(which: str, spec):
    if which == "vibe":
        return [c[:3] for c in clips_for(spec, ["vibe_ace_00-08s"], False, 4.0)]
    from melbench.datasets.eval_suite import EvalSuite

    n = int(which[5:] or 0)
    clips = [(c.id, "music", np.asarray(c.audio, np.float32)) for c in EvalSuite().clips(spec)
             if not c.error and c.meta.get("kind") == "music"]
    return clips[:: max(1, len(clips) // n)][:n] if n else clips


def main(argv: list[str]) -> int:
    """Measure the cells (``argv`` = SET SPEC CELL...) and print per-clip SC and the means."""
    which, spec_name, cells = argv[0], argv[1], argv[2:]
    spec = get_spec(spec_name)
    res: dict[str, list[tuple[float, float]]] = {c: [] for c in cells}
    with threadpool_limits(1):
        for cid, _kind, y in _clips(which, spec):
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
                res[cell].append((spectral_convergence_db(mag, spec.magnitude(out)), dt))
            print(f"{cid[:32]:32s} " + " ".join(f"{res[c][-1][0]:7.2f}" for c in cells), flush=True)
    ref = np.array([r[0] for r in res[cells[0]]])
    for cell in cells:
        a = np.array(res[cell])
        worse, better = int(np.sum(a[:, 0] > ref + 0.3)), int(np.sum(a[:, 0] < ref - 0.3))
        print(f"MEAN {cell:50s} n={len(a):3d} SC {a[:, 0].mean():7.2f} s {a[:, 1].mean():6.3f} "
              f"worse>0.3dB {worse:3d} better>0.3dB {better:3d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
