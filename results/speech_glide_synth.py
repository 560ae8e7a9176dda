"""The glide features of ``results/speech_glide.py`` on synthetic harmonic glides at speech16k.

Run from the repository root::

    .venv/bin/python results/speech_glide_synth.py

A 2 s harmonic tone (F0 150 Hz at its middle, partials below 3.5 kHz, amplitudes 1/k)
whose log-F0 moves at a constant rate; the expected value is that rate's shift per frame
of a 500 Hz component in FFT bins. See ``results/speech_glide.md``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from melbench.spec import get_spec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speech_glide import f0_glide, xcorr_glide  # noqa: E402

spec = get_spec("speech16k")
sr = spec.sample_rate
t = np.arange(int(2.0 * sr)) / sr
for rate in [0.0, 0.125, 0.25, 0.5, 1.0, 2.0]:  # d ln F0 / dt in 1/s (an octave is 0.69)
    f0 = 150 * np.exp(rate * (t - 1.0))
    ph = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * ph) / k for k in range(1, 30) if k * 150 < 3500).astype(np.float32)
    mel = spec.mel_from_magnitude(spec.magnitude(y))
    expected = rate * spec.hop_length / sr * 500 / (sr / spec.n_fft)
    print(f"d ln F0/dt {rate:5.3f}/s: expected {expected:.3f}  xcorr {xcorr_glide(mel, spec):.3f}  "
          f"f0slope {f0_glide(mel, spec):.3f}")
