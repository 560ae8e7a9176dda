"""Round 5 of the music-SC work (issue 16): the prototypes and the contract-family measurement.

Run from the repository root (one thread)::

    .venv/bin/python results/music_phase_round5.py family SPEC FMAXES CROPS METHOD [METHOD ...]
    .venv/bin/python results/music_phase_round5.py proto SPECS CROPS VARIANT [VARIANT ...]
    .venv/bin/python results/music_phase_round5.py stages SPECS CROPS STAGES [STAGES ...]
    .venv/bin/python results/music_phase_round5.py longwin SPECS CROPS VARIANT [VARIANT ...]
    .venv/bin/python results/music_phase_round5.py error_bands SPECS CROP

Every line is the true-magnitude SC (dB) of the audio after the method and 32 ``fgla``
iterations on the bundled music excerpt (``vibe_ace_00-08s``, first CROP seconds; the
benchmark's crop is 2.5 s, the older tables used 4 s).

- ``family``: the excerpt under a family of nearby mel contracts (the preset with its
  ``fmax`` replaced by each of FMAXES, comma-separated, 0 = the preset's own; each of
  CROPS): one contract's SC is a lottery of +-1-2 dB (the band layout against the clip's
  bass partials), so methods are compared on the family's mean and per-contract wins.
  METHOD is a keyword list of :func:`melbench.inverters.joint_continuity.joint_tc_inverse`
  (``""`` = its defaults, ``"beta=0"`` = ``joint_fgla``, ``"beta=0,lowrank=0.25,average_iter=100"``
  = ``joint_lr``).
- ``proto``: a prior hook on ``joint_fgla_inverse`` (continuity ``tc`` as ``joint_tc``,
  low-rank ``lr`` with rank ``r``, window ``win`` frames (0: the whole clip), up to
  ``lr_hz``, every ``every`` iterations, optionally in the log domain ``log=True``).
- ``stages``: momentum schedules as chained ``joint_fgla_inverse`` calls
  ``[(iterations, alpha, continuity beta), ...]`` (the momentum restarts between stages).
- ``longwin``: a sparsity prior in a long-window STFT (``nl`` = 4096 samples, hop nl/4):
  every ``every`` iterations the low band (up to ``hz``) of the iterate's signal is
  sharpened there (``|Y| (|Y| / max |Y|)^(g - 1)``, the band energy per frame kept) and the
  change is added back to the iterate's low bins; ``g=1.0`` is a no-op (reproduces ``joint_tc``).
- ``error_bands``: where the SC error sits in frequency, ``joint_fgla`` and ``joint_tc``.
- ``timing SPECS CELL...``: median CPU time of 5 alternating repetitions of each cell and
  librosa ``mel_to_audio`` on the benchmark's excerpt and two speech clips (2.5 s), as ratios.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.signal as ss
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import clips_for
from melbench.inverters.joint_continuity import _k_continuity, joint_tc_inverse
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.measures import spectral_convergence_db as scdb
from melbench.phase.projections import fgla
from melbench.spec import get_spec
from melbench.stft import Projector


def _excerpt(spec, crop):
    y = clips_for(spec, ["vibe_ace_00-08s"], False, crop)[0][2]
    mag = spec.magnitude(y)
    return y, mag, spec.decompress(spec.mel_from_magnitude(mag))


def _sc(spec, y, mag, s, x):
    return scdb(mag, spec.magnitude(spec.istft(fgla(s, spec, n_iter=32, init=x), length=len(y))))


def _lowrank_proto(a, r, win, log):
    """Rank-r approximation of a (frames, bins) over half-overlapping windows (Hann blend)."""
    t_len = a.shape[0]
    x = np.log(np.maximum(a, 1e-12)) if log else a
    if win <= 0 or win >= t_len:
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        out = (u[:, :r] * s[:r]) @ vt[:r]
    else:
        out, wsum = np.zeros_like(x), np.zeros((t_len, 1), x.dtype)
        starts = list(range(0, max(t_len - win, 0) + 1, win // 2))
        if starts[-1] + win < t_len:
            starts.append(t_len - win)
        w = np.hanning(win + 2)[1:-1].astype(x.dtype)[:, None]
        for s0 in starts:
            u, s, vt = np.linalg.svd(x[s0:s0 + win], full_matrices=False)
            out[s0:s0 + win] += w * ((u[:, :r] * s[:r]) @ vt[:r])
            wsum[s0:s0 + win] += w
        out /= np.maximum(wsum, 1e-12)
    return np.exp(out) if log else np.maximum(out, 0)


def _hook(spec, tc=0.25, tc_hz=1000, lr=0.0, r=4, win=32, lr_hz=1000, log=False, prior_iter=150, every=1):
    nbt = int(np.floor(tc_hz * spec.n_fft / spec.sample_rate)) + 1
    nbl = int(np.floor(lr_hz * spec.n_fft / spec.sample_rate)) + 1

    def hook(it, t):
        if it >= prior_iter:
            return
        if tc > 0:
            _k_continuity(t, np.empty(t.shape, t.real.dtype), t.real.dtype.type(tc), nbt)
        if lr > 0 and it % every == 0:
            a = np.abs(t[:, :nbl])
            ap = (1 - lr) * a + lr * _lowrank_proto(a, r, win, log)
            t[:, :nbl] *= np.where(a > 1e-30, ap / np.maximum(a, 1e-30), 1).astype(t.real.dtype)
    return hook


def family(spec_name, fmaxes, crops, methods):
    """The ``family`` section: every METHOD on every contract of the family, then the means."""
    res = {m: [] for m in methods}
    for fm in [float(v) for v in fmaxes.split(",")]:
        spec = get_spec(spec_name) if fm == 0 else get_spec(spec_name).replace(fmax=fm)
        for crop in [float(c) for c in crops.split(",")]:
            y, mag, mel = _excerpt(spec, crop)
            row = []
            for m in methods:
                sc = _sc(spec, y, mag, *joint_tc_inverse(mel, spec, **eval(f"dict({m})")))
                res[m].append(sc)
                row.append(sc)
            print(f"fmax {fm:6.0f} crop {crop}: " + " ".join(f"{v:7.2f}" for v in row), flush=True)
    first = np.array(res[methods[0]])
    for m in methods:
        a = np.array(res[m])
        d = a - first
        print(f"MEAN {a.mean():7.2f} std {a.std():5.2f} min {a.min():7.2f} max {a.max():7.2f} | against "
              f"the first: {d.mean():+5.2f}, better by >0.3 dB {int((d < -0.3).sum())}, "
              f"worse {int((d > 0.3).sum())}  [{m}]")


def _each(specs, crops, fn, variants):
    for sn in specs.split(","):
        spec = get_spec(sn)
        for crop in [float(c) for c in crops.split(",")]:
            y, mag, mel = _excerpt(spec, crop)
            for v in variants:
                t0 = time.process_time()
                sc = fn(spec, y, mag, mel, v)
                print(f"{sn:16s} {crop:3.1f} {sc:7.2f} {time.process_time() - t0:6.3f}  {v}", flush=True)


def _proto(spec, y, mag, mel, v):
    hook = _hook(spec, **eval(f"dict({v})"))
    return _sc(spec, y, mag, *joint_fgla_inverse(mel, spec, n_iter=200, prior=hook))


def _stages(spec, y, mag, mel, v):
    x = s = None
    for n, al, b in eval(v):
        hook = _hook(spec, tc=b, prior_iter=10**9) if b > 0 else None
        s, x = joint_fgla_inverse(mel, spec, n_iter=n, alpha=al, prior=hook, init=x)
    return _sc(spec, y, mag, s, x)


def _longwin(spec, y, mag, mel, v):
    kw = dict(tc=0.25, g=1.2, hz=250, nl=4096, every=4, prior_iter=150)
    kw.update(eval(f"dict({v})"))
    proj = Projector.from_spec(spec, mel.shape[-1], dtype=np.float32)
    nl = kw["nl"]
    nb = int(np.floor(kw["hz"] * spec.n_fft / spec.sample_rate)) + 1
    nbl = int(np.floor(kw["hz"] * nl / spec.sample_rate)) + 1
    base = _hook(spec, tc=kw["tc"], prior_iter=kw["prior_iter"])

    def hook(it, t):
        base(it, t)
        if it >= kw["prior_iter"] or it % kw["every"]:
            return
        sig = spec.istft(proj.from_internal(t[None]), length=len(y))
        _, _, big = ss.stft(sig, nperseg=nl, noverlap=nl * 3 // 4, window="hann", boundary="even",
                            padded=True)
        low = big[:nbl]
        a = np.abs(low)
        a2 = a * (a / (a.max(axis=0, keepdims=True) + 1e-12)) ** (kw["g"] - 1)
        a2 *= np.sqrt((a**2).sum(0, keepdims=True) / np.maximum((a2**2).sum(0, keepdims=True), 1e-24))
        delta = np.zeros_like(big)
        delta[:nbl] = low * (a2 / np.maximum(a, 1e-12)) - low
        _, dy = ss.istft(delta, nperseg=nl, noverlap=nl * 3 // 4, window="hann", boundary=True)
        dy = np.pad(dy[:len(y)], (0, max(0, len(y) - len(dy)))).astype(np.float32)
        t[:, :nb] += proj.to_internal(spec.stft(dy), proj.cdtype)[0][:, :nb]

    return _sc(spec, y, mag, *joint_fgla_inverse(mel, spec, n_iter=200, prior=hook))


def error_bands(specs, crop):
    """The ``error_bands`` section: energy and SC error per frequency band."""
    edges = [0, 100, 200, 300, 500, 1000, 2000, 1e9]
    for sn in specs.split(","):
        spec = get_spec(sn)
        y, mag, mel = _excerpt(spec, float(crop))
        hz = np.arange(spec.n_freq) * spec.sample_rate / spec.n_fft
        tot = np.sum(mag**2)
        bands = list(zip(edges[:-1], edges[1:], strict=True))
        share = [round(float(np.sum(mag[(hz >= a) & (hz < b)] ** 2) / tot), 3) for a, b in bands]
        print(sn, "energy share per band", share)
        for beta in (0.0, 0.25):
            s, x = joint_tc_inverse(mel, spec, beta=beta)
            est = spec.magnitude(spec.istft(fgla(s, spec, n_iter=32, init=x), length=len(y)))
            e = (mag - est) ** 2
            print(f"  beta {beta}: SC {scdb(mag, est):.2f}; error energy per band (dB of the total) "
                  + str([round(10 * np.log10(max(float(np.sum(e[(hz >= a) & (hz < b)]) / tot), 1e-12)), 1)
                         for a, b in bands]))


def timing(specs, cells):
    """The ``timing`` section: CPU time over librosa's, side by side, median of 5."""
    from melbench.bench.pipelines import _cell_call, _librosa_call

    for sn in specs.split(","):
        spec = get_spec(sn)
        for cid, _kind, y in clips_for(spec, ["vibe_ace_00-08s", "cmu_arctic_a0007", "allison_vm-review"],
                                       False, 2.5):
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            fns = {"librosa": (_librosa_call(spec, len(y)), spec.decompress(mel))}
            _librosa_call(spec, None)(spec.decompress(mel)[..., :16])
            for c in cells:
                fns[c] = (_cell_call(c, spec, len(y), mag, 0), mel)
                fns[c][0](mel[..., :16])
            tt = {k: [] for k in fns}
            for _ in range(5):
                for k, (fn, arg) in fns.items():
                    t0 = time.process_time()
                    fn(arg)
                    tt[k].append(time.process_time() - t0)
            lib = np.median(tt["librosa"])
            print(f"{sn:15s} {cid[:20]:20s} librosa {lib:.3f} | " + " | ".join(
                f"{c} {np.median(tt[c]):.3f} x{np.median(tt[c]) / lib:.2f}" for c in cells), flush=True)


def main(argv):
    """Dispatch the sections of the module docstring."""
    with threadpool_limits(1):
        if argv[0] == "family":
            family(argv[1], argv[2], argv[3], argv[4:])
        elif argv[0] == "timing":
            timing(argv[1], argv[2:])
        elif argv[0] == "error_bands":
            error_bands(argv[1], argv[2])
        else:
            fn = {"proto": _proto, "stages": _stages, "longwin": _longwin}[argv[0]]
            _each(argv[1], argv[2], fn, argv[3:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
