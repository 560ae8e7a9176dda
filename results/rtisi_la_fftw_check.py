"""FFTW vs rocket-fft per rfft+irfft pair of 2048 points, one process (not a melbench dependency).

Run in a separate venv with numpy, numba, rocket-fft and pyfftw installed:
    python results/rtisi_la_fftw_check.py
"""
import time

import numpy as np
import pyfftw
import rocket_fft  # noqa: F401
from numba import njit


@njit
def pairs(v, n):
    acc = 0.0
    for _ in range(n):
        acc += np.fft.irfft(np.fft.rfft(v), v.size)[0]
    return acc


N = 2048; n = 20000
v = np.random.default_rng(0).random(N); pairs(v, 2)
a = pyfftw.empty_aligned(N, dtype=np.float64); b = pyfftw.empty_aligned(N//2+1, dtype=np.complex128); c = pyfftw.empty_aligned(N, dtype=np.float64)
f = pyfftw.FFTW(a, b, flags=('FFTW_MEASURE',)); g = pyfftw.FFTW(b, c, direction='FFTW_BACKWARD', flags=('FFTW_MEASURE', 'FFTW_DESTROY_INPUT'))
a[:] = v
rr, ff = [], []
for _ in range(7):
    t = time.perf_counter(); pairs(v, n); rr.append(time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n):
        f.execute(); g.execute()
    ff.append(time.perf_counter() - t)
print(f"rocket-fft in numba: {min(rr)/n*1e6:.2f} us/pair; FFTW (pyfftw execute from a Python loop, overhead included): {min(ff)/n*1e6:.2f} us/pair; ratio FFTW/rocket median {np.median(np.array(ff)/np.array(rr)):.2f}")
