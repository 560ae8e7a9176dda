"""The default cell's time against librosa's mel_to_audio on one clip, one process per call.

Used in round 8 (issue 16) to check whether the benchmark's 1.01-1.04x at the BigVGAN presets
came from the code or the machine: the same script is run on the previous code (a worktree of
``c652ece`` put first on ``PYTHONPATH``) and on the new, alternately. Prints the minimum of 4
CPU times of the cell and of librosa (same process, interleaved, after a warm-up) and their
ratio.

Usage (from the repository root, one thread)::

    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/oldmain .venv/bin/python results/speed_round8.py bigvgan_44k_128 \
        guarded:200:inner=joint_tcr+fgla:0
    OMP_NUM_THREADS=1 .venv/bin/python results/speed_round8.py bigvgan_44k_128 \
        guarded:200:inner=joint_auto+fgla:0
"""

import sys
import time

from threadpoolctl import threadpool_limits

import melbench
from melbench.bench.pipelines import _cell_call, _librosa_call, clips_for, get_spec

sp = get_spec(sys.argv[1])
cell = sys.argv[2]
((_cid, _kind, y),) = clips_for(sp, ["cmu_arctic_a0007"], False, 0.0)
mag = sp.magnitude(y)
mel = sp.mel_from_magnitude(mag)
run, lib, mel_lin = _cell_call(cell, sp, len(y), mag, 0), _librosa_call(sp, len(y)), sp.decompress(mel)
with threadpool_limits(1):
    run(mel)
    lib(mel_lin)
    t_cell, t_lib = [], []
    for _ in range(4):
        t0 = time.process_time()
        run(mel)
        t_cell.append(time.process_time() - t0)
        t0 = time.process_time()
        lib(mel_lin)
        t_lib.append(time.process_time() - t0)
print(melbench.__file__.split("/melbench/")[0], sys.argv[1], cell,
      f"cell {min(t_cell):.3f} s, librosa {min(t_lib):.3f} s, x librosa {min(t_cell) / min(t_lib):.3f}")
