"""melbench's lws gives the same bits whether its numba kernels are fresh or cached.

The music preset's causal stages (no future, online) amplify a last-bit difference at
hop n_fft/4 until the final SC moves by up to 1.5 dB, so the kernels must compute the same
thing in every compilation state. With numba's ``fastmath=True`` they did not: its
``reassoc`` flag let LLVM re-associate sums differently in the copy of a kernel compiled
with its caller and in the one loaded from numba's on-disk cache (docs/local_phase.md).

Slow (two subprocesses each compiling the kernels, about 30 s): ``make test-lws-repro``
or ``pytest -m slow tests/test_lws_reproducible.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# The music preset on the first seconds of the bundled music clip at speech16k (hop
# n_fft/4) and at the package's own window; the spectrogram is saved for a bitwise check.
SCRIPT = r"""
import sys
import numpy as np
from melbench.bench.local_phase import _load, _specs
from melbench.phase.lws import lws

out = {}
for name, spec in _specs():
    if name not in ("speech16k", "speech16k+lws_window"):
        continue
    y = _load("vibe_ace_00-08s", spec)[: int(float(sys.argv[2]) * spec.sample_rate)]
    mag = np.abs(spec.stft(y)).astype(np.float64)
    for mode in ("music", "speech"):
        out[f"{name}_{mode}"] = lws(mag, spec, mode=mode)
np.savez(sys.argv[1], **out)
"""


def _run(cache: Path, out: Path, seconds: float) -> dict[str, np.ndarray]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("NUMBA_DISABLE_JIT", None)
    subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(seconds)], env=env,
                   check=True, timeout=600)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_lws_is_bit_identical_with_fresh_and_cached_kernels(tmp_path):
    cache = tmp_path / "numba_cache"
    fresh = _run(cache, tmp_path / "fresh.npz", 4.0)  # compiles, fills the cache
    assert any(cache.rglob("*lws_kernels*.nbc")), "the first run did not fill the cache"
    cached = _run(cache, tmp_path / "cached.npz", 4.0)  # loads the kernels from it
    assert fresh.keys() == cached.keys()
    for key, a in fresh.items():
        b = cached[key]
        assert a.dtype == b.dtype and a.shape == b.shape
        differ = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert differ.size == 0, (
            f"{key}: {differ.size} bytes differ between fresh and cached kernels "
            f"(max |difference| {np.abs(a - b).max():.3g})")
