"""Per-iteration cost of ``joint_fgla`` against the FFT floor, side by side in one run.

Run from the repository root::

    .venv/bin/python results/bench_joint_fgla.py [--specs speech16k tts22k] [--repeat 40]

Writes ``results/bench_joint_fgla.md``. One thread (threadpoolctl, scipy.fft workers=1),
CPU time (``time.process_time``; the machine is shared). Per spec, on the bundled CMU
ARCTIC clip (4 s):

* FFT floor: one ``irfft`` + ``rfft`` pair over all frames (the least an iteration of any
  consistency-based method can cost);
* ``Projector.project``: the STFT engine's consistency projection (the FFT pair plus
  overlap-add, normalisation and re-framing);
* the ``P_mel`` + momentum kernel alone, with 0, 1 and 3 mel steps, for the current
  kernel and for the previous one-pass kernel (copied below from commit fb9f09a);
* one whole ``joint_fgla`` iteration (``joint_fgla_inverse`` over 100 iterations / 100)
  and one ``fgla`` iteration, for reference;
* librosa ``mel_to_audio`` (32 Griffin-Lim iterations) and the whole default cell, in
  seconds, on the same clip.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits

import melbench
from melbench.datasets.bundled import Bundled
from melbench.inverters import joint_fgla as J
from melbench.phase.projections import fgla
from melbench.results import atomic_write_bytes
from melbench.spec import get_spec
from melbench.stft import Projector


@numba.njit(cache=False, nogil=True, fastmath=True, error_model="numpy")
def _k_joint_onepass(t, xprev, lo, offsets, mw, ww, keep, mel, n_steps, power, alpha, first,
                     s_out, want_s, want_dist):  # pragma: no cover - compiled
    """The previous kernel (commit fb9f09a): one blocked pass, ``|t|`` computed twice."""
    n_frames, n = t.shape
    n_rows = mel.shape[0]
    dt = mel.dtype.type
    small = dt(1e-30)
    blk = 32
    s = np.empty((n, blk), dtype=mel.dtype)
    fac = np.empty((n, blk), dtype=mel.dtype)
    acc = np.empty(blk, dtype=mel.dtype)
    dist = 0.0
    for k0 in range(0, n_frames, blk):
        nb = min(blk, n_frames - k0)
        for f in range(nb):
            for j in range(n):
                v = t[k0 + f, j]
                m2 = v.real * v.real + v.imag * v.imag
                s[j, f] = m2 if power == 2 else np.sqrt(m2)
        for _ in range(n_steps):
            for j in range(n):
                for f in range(nb):
                    fac[j, f] = keep[j]
            for i in range(n_rows):
                o = offsets[i]
                w = offsets[i + 1] - o
                base = lo[i]
                acc[:nb] = dt(0.0)
                for q in range(w):
                    wq = mw[o + q]
                    for f in range(nb):
                        acc[f] += wq * s[base + q, f]
                for f in range(nb):
                    acc[f] = mel[i, k0 + f] / acc[f] if acc[f] > small else dt(0.0)
                for q in range(w):
                    wq = ww[o + q]
                    for f in range(nb):
                        fac[base + q, f] += wq * acc[f]
            for j in range(n):
                for f in range(nb):
                    v2 = s[j, f] * fac[j, f]
                    s[j, f] = v2 if v2 > small else dt(0.0)
        for f in range(nb):
            k = k0 + f
            for j in range(n):
                sj = s[j, f]
                v = t[k, j]
                a = np.sqrt(v.real * v.real + v.imag * v.imag)
                mag = np.sqrt(sj) if power == 2 else sj
                g = mag / a if a > small else dt(0.0)
                if want_dist:
                    d = np.float64(a - mag)
                    dist += d * d
                if want_s:
                    s_out[k, j] = sj
                x = t[k, j] * g
                if first:
                    t[k, j] = x
                else:
                    t[k, j] = x + alpha * (x - xprev[k, j])
                xprev[k, j] = x
    return dist


def _time(fn, repeat: int) -> float:
    """Median CPU seconds of ``fn()`` over ``repeat`` calls (after one warm-up)."""
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return float(np.median(out))


def measure(spec_name: str, repeat: int) -> list[tuple[str, float]]:
    """``(what, seconds)`` rows for one spec (see the module docstring)."""
    import librosa

    spec = get_spec(spec_name)
    y = next(Bundled(ids=["cmu_arctic_a0007"]).clips(spec)).audio[: 4 * spec.sample_rate]
    y = np.ascontiguousarray(y, dtype=np.float32)
    mag = spec.magnitude(y)
    mel = np.ascontiguousarray(spec.mel_from_magnitude(mag), dtype=np.float32)
    n_frames = mel.shape[-1]
    proj = Projector.from_spec(spec, n_frames, dtype=np.float32)
    c = proj.to_internal(mag.astype(np.complex64), np.complex64)
    lo, off, mw, ww, keep = J._joint_operators(spec, np.dtype(np.float32).str, False)
    t0 = c[0].copy()
    xp = np.empty_like(t0)
    s = np.empty(t0.shape, np.float32)
    a = np.empty(t0.shape, np.float32)
    g = np.empty(t0.shape, np.float32)
    al, power = np.float32(0.99), int(spec.power)
    rows: list[tuple[str, float]] = []

    def floor():
        fr = scipy.fft.irfft(c, n=spec.n_fft, axis=-1, workers=1)
        scipy.fft.rfft(fr, axis=-1, workers=1, overwrite_x=True)

    rows.append(("FFT floor (irfft + rfft pair)", _time(floor, repeat)))
    copy = _time(lambda: t0.copy(), repeat)  # subtracted from the kernel timings
    rows.append(("Projector.project", _time(lambda: proj.project(c.copy(), overwrite=True), repeat)
                 - copy))
    for steps in (0, 1, 3):
        rows.append((f"kernel, {steps} mel steps (previous one-pass)", _time(
            lambda st=steps: _k_joint_onepass(t0.copy(), xp, lo, off, mw, ww, keep, mel, st, power,
                                              al, False, s, False, False), repeat) - copy))
        rows.append((f"kernel, {steps} mel steps (current)", _time(
            lambda st=steps: J._k_joint(t0.copy(), xp, a, g, lo, off, mw, ww, keep, mel, st, power,
                                        al, False, s, False, False), repeat) - copy))
    n_it = 100
    rows.append(("joint_fgla iteration (3 mel steps)", _time(
        lambda: J.joint_fgla_inverse(mel, spec, n_iter=n_it, final_steps=0), max(3, repeat // 10))
        / n_it))
    rows.append(("fgla iteration", _time(lambda: fgla(mag, spec, n_iter=n_it, rng=0),
                                          max(3, repeat // 10)) / n_it))
    lib = dict(sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
               win_length=spec.win_length, window=spec.window, center=spec.center,
               pad_mode=spec.pad_mode, power=float(spec.power), fmin=spec.fmin, fmax=spec.fmax,
               htk=spec.htk, norm="slaney" if spec.mel_norm == "slaney" else None)
    lin = spec.decompress(mel)
    rows.append(("librosa mel_to_audio (whole call)", _time(
        lambda: librosa.feature.inverse.mel_to_audio(lin, length=y.size, **lib), 3)))
    rows.append(("melbench.invert default cell (whole call)", _time(
        lambda: melbench.invert(mel, spec=spec, length=y.size), 3)))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure every spec and write the table (``--out``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--specs", nargs="+", default=["speech16k", "tts22k"])
    p.add_argument("--repeat", type=int, default=40)
    p.add_argument("--out", default="results/bench_joint_fgla.md")
    args = p.parse_args(argv)
    lines = ["# `joint_fgla` per-iteration cost against the FFT floor", "",
             "Command: `.venv/bin/python results/bench_joint_fgla.py"
             + "".join(" " + a for a in (sys.argv[1:] if argv is None else argv)) + "`",
             "", f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy "
             f"{np.__version__}, numba {numba.__version__}; shared 2-core machine, one thread, "
             "CPU time, median over repeats; bundled CMU ARCTIC clip, 4 s.", "",
             "Kernel rows exclude the copy of the input they work on. Ratios are against the "
             "FFT floor of the same spec in the same run; the two librosa/default rows are whole "
             "calls in seconds (ratio: against librosa).", ""]
    with threadpool_limits(1):
        for name in args.specs:
            rows = measure(name, args.repeat)
            floor = rows[0][1]
            lib = rows[-2][1]
            lines += [f"## {name}", "", "| what | ms | x FFT floor |", "|---|---|---|"]
            for what, sec in rows[:-2]:
                lines.append(f"| {what} | {sec * 1e3:.3f} | {sec / floor:.2f} |")
            lines += ["", "| whole call | s | x librosa |", "|---|---|---|"]
            for what, sec in rows[-2:]:
                lines.append(f"| {what} | {sec:.3f} | {sec / lib:.2f} |")
            lines.append("")
            print("\n".join(lines[-(len(rows) + 7):]), flush=True)
    atomic_write_bytes(Path(args.out), "\n".join(lines).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
