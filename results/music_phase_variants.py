"""Prototypes measured for issue 16 (music SC at speech16k): every variant of ``results/music_phase.md``.

Run from the repository root (one thread; about 10 minutes on a loaded 2-core machine)::

    .venv/bin/python results/music_phase_variants.py [NAME ...]

``NAME`` is one of the sections below (default: all): ``diagnosis``, ``phase_lock``,
``sparse``, ``coarse``, ``alpha``, ``starts``, ``average``, ``sharpen``, ``continuity``,
``wide``, ``adaptive``, ``coherence``, ``schedule``, ``alternate``. Each prints the
true-magnitude SC (dB) of the audio after the variant and 32 ``fgla`` iterations on the
bundled music excerpt (``vibe_ace_00-08s``, first 4 s, as ``melbench bench pipelines``)
at speech16k, unless the line says otherwise. The ``joint_tc`` calls pin
``prior_iter=None`` (the prior in every iteration, as when these were measured). The
numpy prototypes use melbench's own ``Projector``, filterbank, ``nnls`` start and
``fgla``; ``joint_np`` reproduces ``joint_fgla_inverse`` (-14.96 against -14.97 dB).
These are one-off research prototypes, not library code; the winner is
:mod:`melbench.inverters.joint_continuity`.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.optimize as so
import scipy.signal as ss
from scipy.ndimage import convolve1d
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _pesq, clips_for
from melbench.inverters.joint_continuity import joint_tc_inverse
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.inverters.nnls import mel_nnls_inverse
from melbench.measures import spectral_convergence_db as scdb
from melbench.phase.projections import fgla
from melbench.spec import get_spec
from melbench.stft import Projector

SPEC = get_spec("speech16k")
Y = clips_for(SPEC, ["vibe_ace_00-08s"], False, 4.0)[0][2]
MAG = SPEC.magnitude(Y)
MEL = SPEC.mel_from_magnitude(MAG)
N, HOP, F = SPEC.n_fft, SPEC.hop_length, SPEC.n_freq
MB = SPEC.mel_basis(np.float64)
_COL = MB.sum(0)
W = np.where(_COL > 0, MB / np.where(_COL > 0, _COL, 1), 0.0)
PROJ = Projector.from_spec(SPEC, MEL.shape[1], dtype=np.float32)
S0 = mel_nnls_inverse(MEL, SPEC)
XT = SPEC.stft(Y).astype(np.complex64)
KC = 65  # bins up to 1000 Hz


def sc_audio(x, y=Y, mag=MAG, spec=SPEC):
    """True-magnitude SC (dB) of the audio of a complex estimate."""
    return round(scdb(mag, spec.magnitude(spec.istft(x, length=len(y)))), 2)


def fin(s, x, n=32):
    """SC after ``n`` fgla iterations from ``x`` on the magnitude ``s``."""
    return sc_audio(fgla(s, SPEC, n_iter=n, init=x))


def melstep(a, m, n):
    """``n`` multiplicative mel steps on ``a`` (as joint_fgla's kernel)."""
    s = a.copy()
    for _ in range(n):
        ms = MB @ s
        s = s * (W.T @ np.where(ms > 1e-30, m / np.maximum(ms, 1e-30), 0))
    return s


def joint_np(m, n_iter, prior=None, init=None, alpha=0.99, steps=3, final=100):
    """joint_fgla in numpy; ``prior(a, it)`` maps the consistent magnitude before the mel step."""
    c = (S0 if init is None else init).astype(np.complex128)
    xprev = None
    for it in range(n_iter):
        t = PROJ.from_internal(PROJ.project(PROJ.to_internal(c.astype(np.complex64), np.complex64)))
        t = t.astype(np.complex128)
        a = np.abs(t)
        s = melstep(a if prior is None else prior(a, it), m, steps)
        x = t * np.where(a > 1e-30, s / np.maximum(a, 1e-30), 0)
        c = x if xprev is None else x + alpha * (x - xprev)
        xprev = x
    a = np.abs(xprev)
    s = melstep(a, m, final)
    g = np.where(a > 1e-30, s / np.maximum(a, 1e-30), 0)
    return s.astype(np.float32), (xprev * g).astype(np.complex64)


def geo_pull(a, beta, taps=(1, 2, 1), kc=F):
    """The continuity prior: ``a`` pulled to its geometric mean along frames (bins below ``kc``)."""
    taps = np.asarray(taps, float) / np.sum(taps)
    out = a.copy()
    sm = np.exp(convolve1d(np.log(np.maximum(a[:kc], 1e-30)), taps, axis=1, mode="nearest"))
    out[:kc] = (1 - beta) * a[:kc] + beta * sm
    return out


def pl_phase(S, kmax=None, thr_db=60):
    """Phase-vocoder phase locking (Laroche & Dolson 1999) on a magnitude ``S`` (F, T).

    Per frame the peaks (local maxima within ``thr_db`` of the frame's maximum) get the
    frequency of a parabola through the log magnitude; a peak continues the nearest peak of
    the previous frame (within one bin) and advances its phase by ``2 pi f hop / N`` (``f``
    the mean of the two frequencies, in bins); every bin takes ``psi - pi k`` of the peak
    whose region it lies in (this STFT's frames are not centred: a stationary sinusoid's
    phase at bin ``k`` is ``omega hop t + phi0 - pi k`` across its main lobe).
    """
    F_, T = S.shape
    kmax = F_ if kmax is None else kmax
    ph = np.zeros((F_, T))
    bins = np.arange(F_)
    prev_f, prev_psi = np.zeros(0), np.zeros(0)
    for t in range(T):
        s = S[:, t]
        ls = np.log(np.maximum(s, 1e-12))
        floor = s.max() * 10 ** (-thr_db / 20)
        pk = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:]) & (s[1:-1] > floor)) + 1
        pk = pk[pk < kmax]
        if len(pk) == 0:
            prev_f, prev_psi = np.zeros(0), np.zeros(0)
            continue
        a, b, c = ls[pk - 1], ls[pk], ls[pk + 1]
        den = a - 2 * b + c
        off = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
        f = pk + np.clip(off, -0.5, 0.5)
        psi = 2 * np.pi * f * HOP / N * t
        if len(prev_f):
            j = np.abs(prev_f[None, :] - f[:, None]).argmin(1)
            psi = np.where(np.abs(prev_f[j] - f) <= 1.0, prev_psi[j] + np.pi * (prev_f[j] + f) * HOP / N, psi)
        owner = np.searchsorted((pk[:-1] + pk[1:]) / 2, bins)
        ph[:, t] = psi[owner] - np.pi * bins
        prev_f, prev_psi = f, psi
    return ph


def diagnosis():
    """Where the joint iteration ends and how well its audio fits the mel."""
    print("nnls magnitude SC", round(scdb(MAG, S0), 2))
    s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200)
    a = SPEC.magnitude(SPEC.istft(fgla(s, SPEC, n_iter=32, init=x), length=len(Y)))
    print("joint_fgla:200+fgla:32 SC", round(scdb(MAG, a), 2),
          "mel SC of its audio", round(scdb(MEL, MB @ a), 2))
    s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=XT)
    a = SPEC.magnitude(SPEC.istft(x, length=len(Y)))
    print("joint 200 from the true STFT: SC", round(scdb(MAG, a), 2), "mel SC", round(scdb(MEL, MB @ a), 2))
    print("true audio mel SC", round(scdb(MEL, MB @ MAG), 2))
    sj = np.abs(fgla(*joint_fgla_inverse(MEL, SPEC, n_iter=200)[:1], SPEC, n_iter=32,
                     init=joint_fgla_inverse(MEL, SPEC, n_iter=200)[1]))
    for name, S in (("true", MAG), ("joint_fgla:200+fgla:32", sj)):
        L = 20 * np.log10(S[2:20] + 1e-6 * S.max())
        w = S[2:20, 1:]
        rel = S / (MB.T @ (MB @ S) + 1e-9)
        print(f"{name}: energy-weighted change per frame, bins 2-20: "
              f"{np.sum(np.abs(np.diff(L, axis=1)) * w) / w.sum():.2f} dB; fine structure / band level, "
              f"bins 2-40: {np.sum(np.abs(np.diff(rel[2:40], axis=1))) / np.abs(rel[2:40]).sum():.3f}")


def phase_lock():
    """Phase-locking starts (self-check on a sinusoid first)."""
    # self-check of the rule on a stationary sinusoid: phase advance = 2 pi f hop / sr
    sr, f0 = SPEC.sample_rate, 83.3
    y = np.cos(2 * np.pi * f0 * np.arange(sr) / sr).astype(np.float32)
    ph = pl_phase(SPEC.magnitude(y))
    k = int(round(f0 * N / sr))
    adv = np.angle(np.exp(1j * np.diff(ph[k, 10:-10])))
    print("phase lock on an 83.3 Hz sinusoid: advance", round(float(np.median(adv)), 4), "rule",
          round(float(np.angle(np.exp(2j * np.pi * f0 * HOP / sr))), 4))
    for name, S in (("true", MAG), ("nnls", S0)):
        for kmax in (None, 40):
            x0 = (S * np.exp(1j * pl_phase(S, kmax))).astype(np.complex64)
            if kmax:
                x0[kmax:] = S[kmax:]
            s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=x0)
            fixed = sc_audio(fgla(S.astype(np.float32), SPEC, n_iter=100, init=x0))
            print(f"PL phase of the {name} magnitude (kmax {kmax}): start {sc_audio(x0)}, magnitude fixed + "
                  f"fgla:100 {fixed}, joint 200 {fin(s, x)}")


def _sparse_fit(kc=40, step=0.125):
    w = ss.get_window("hann", N, fftbins=True)
    bins = np.arange(F)
    fr = np.arange(0.5, kc, step)
    m_ = np.arange(N) - N / 2
    lobes = np.stack([(w[None, :] * np.exp(-2j * np.pi * (bins[:, None] - f) * m_[None, :] / N)).sum(1).real
                      for f in fr], 1)
    lobes[np.abs(bins[:, None] - fr[None, :]) >= 2] = 0
    lobes /= np.abs(lobes).max(0, keepdims=True)
    D = np.hstack([np.abs(lobes), np.eye(F)[:, kc:]])
    A = MB @ D
    coef = np.stack([so.nnls(A, MEL[:, t], maxiter=2000)[0] for t in range(MEL.shape[1])], 1)
    return (D @ coef).astype(np.float32)


def sparse():
    """Magnitude from a per-frame NNLS over Hann main lobes at 1/8-bin frequencies."""
    S = _sparse_fit()
    print("sparse main-lobe NNLS magnitude SC", round(scdb(MAG, S), 2), "(nnls", round(scdb(MAG, S0), 2), ")")
    s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=S.astype(np.complex64))
    print("joint 200 from it (zero phase)", fin(s, x), "; magnitude fixed + fgla:100",
          sc_audio(fgla(S, SPEC, n_iter=100, rng=0)))
    x0 = (S * np.exp(1j * np.angle(XT))).astype(np.complex64)
    s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=x0)
    print("joint 200 from it with the TRUE phase", fin(s, x))
    s, x = joint_tc_inverse(MEL, SPEC, n_iter=200, prior_iter=None, init=S.astype(np.complex64))
    print("joint_tc 200 from it (zero phase)", fin(s, x))


def coarse():
    """Coarse-to-fine: joint at hop 128 on a finer mel, then at the target hop."""
    spec2 = SPEC.replace(hop_length=128, name="h128")
    mel2o = spec2.mel_from_magnitude(spec2.magnitude(Y))
    mel2i = np.empty_like(mel2o)
    mel2i[:, ::2] = MEL
    mel2i[:, 1::2] = 0.5 * (MEL[:, :-1] + MEL[:, 1:])
    for name, m2 in (("oracle hop-128 mel", mel2o), ("interpolated mel", mel2i)):
        for n1, n2 in ((100, 100), (200, 100), (150, 150)):
            s2, x2 = joint_fgla_inverse(m2, spec2, n_iter=n1)
            a2 = spec2.istft(x2, length=len(Y))
            s, x = joint_fgla_inverse(MEL, SPEC, n_iter=n2, init=SPEC.stft(a2).astype(np.complex64))
            print(f"coarse-to-fine, {name}: joint {n1} at hop 128 then {n2} at 256:", fin(s, x))


def alpha():
    """Momentum: from the true STFT and from the nnls start."""
    for al in (0.0, 0.5, 0.9, 0.99):
        s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=XT, alpha=al)
        print(f"from the true STFT, alpha {al}: {sc_audio(x)}")
    for al in (0.0, 0.5, 0.9, 0.95):
        s, x = joint_fgla_inverse(MEL, SPEC, n_iter=200, alpha=al)
        print(f"nnls start, alpha {al}: {fin(s, x)}")


def starts():
    """Deterministic and random phase starts for joint_tc and joint_fgla."""
    k = np.arange(F)[:, None]
    tt = np.arange(MEL.shape[1])[None, :]
    rng = np.random.default_rng(0)
    for name, ph in (("zero", 0 * k * tt), ("-pi k", -np.pi * k + 0 * tt),
                     ("bin-centre advance", 2 * np.pi * k * HOP / N * tt - np.pi * k),
                     ("PL(nnls)", pl_phase(S0)), ("random", 2 * np.pi * rng.random(S0.shape))):
        x0 = (S0 * np.exp(1j * ph)).astype(np.complex64)
        s, x = joint_tc_inverse(MEL, SPEC, n_iter=200, prior_iter=None, init=x0)
        s1, x1 = joint_fgla_inverse(MEL, SPEC, n_iter=200, init=x0)
        print(f"start {name}: joint_tc {fin(s, x)}, joint_fgla {fin(s1, x1)}")


def average():
    """Average the magnitudes of joint runs from different starts."""
    rng = np.random.default_rng(0)
    sols = []
    for r in range(4):
        x0 = S0 * np.exp(2j * np.pi * rng.random(S0.shape)) if r else S0
        sols.append(joint_fgla_inverse(MEL, SPEC, n_iter=200, init=x0.astype(np.complex64)))
    for k in (2, 3, 4):
        sa = np.mean([q[0] for q in sols[:k]], 0)
        print(f"mean of {k} joint magnitudes: magnitude SC {scdb(MAG, sa):.2f}, + fgla:100 from the first "
              f"phase {sc_audio(fgla(sa.astype(np.float32), SPEC, n_iter=100, init=sols[0][1]))}")


def sharpen():
    """A sparsity prior: |t| raised to a power before the mel step."""
    for g in (1.02, 1.05, 1.1, 1.2):
        for kc in (40, F):
            def prior(a, it, g=g, kc=kc):
                b = a.copy()
                b[:kc] = b[:kc] ** g
                return b
            print(f"sharpen |t|^{g} below bin {kc}:", fin(*joint_np(MEL, 200, prior)))


def continuity():
    """The continuity prior: linear and geometric, constant and annealed."""
    for b in (0.1, 0.25, 0.35, 0.5):
        for kc in (KC, F):
            print(f"continuity, linear 1-2-1 mean, beta {b}, bins < {kc}:",
                  fin(*joint_np(MEL, 200, lambda a, it, b=b, kc=kc: _lin_pull(a, b, kc))))
    for b in (0.25, 0.5):
        print(f"continuity beta {b} annealed to 0 over 150 iterations:",
              fin(*joint_np(MEL, 200, lambda a, it, b=b: _lin_pull(a, b * max(0, 1 - it / 150), F))))
    for b in (0.15, 0.25, 0.35, 0.5):
        print(f"continuity, geometric 1-2-1 mean, beta {b}, every bin:",
              fin(*joint_np(MEL, 200, lambda a, it, b=b: geo_pull(a, b))))
    print("geometric, beta 0.25 for 150 iterations then 0:",
          fin(*joint_np(MEL, 200, lambda a, it: geo_pull(a, 0.25 if it < 150 else 0.0))))


def _lin_pull(a, b, kc):
    out = a.copy()
    mean = 0.25 * a[:kc, :-2] + 0.5 * a[:kc, 1:-1] + 0.25 * a[:kc, 2:]
    out[:kc, 1:-1] = (1 - b) * a[:kc, 1:-1] + b * mean
    return out


def wide():
    """Wider temporal means for the geometric prior."""
    for taps in ((1, 2, 1), (1, 2, 3, 2, 1), (1, 1, 1, 1, 1), (1, 2, 3, 4, 3, 2, 1)):
        for b in (0.25, 0.4):
            print(f"geometric mean with taps {taps}, beta {b}, bins < {KC}:",
                  fin(*joint_np(MEL, 200, lambda a, it, t=taps, b=b: geo_pull(a, b, t, KC))))


def adaptive():
    """Beta per band and frame from the mel's own change (dB per frame): 1 - d / d0, clipped."""
    clips = clips_for(SPEC, ["vibe_ace_00-08s", "cmu_arctic_a0007", "allison_vm-review"], False, 4.0)
    for d0 in (0.0, 1.0, 2.0, 3.0):
        res = []
        for cid, kind, y in clips:
            mag = SPEC.magnitude(y)
            m = SPEC.mel_from_magnitude(mag)
            L = 20 * np.log10(np.maximum(m, 1e-5 * m.max()))
            d = np.abs(np.hstack([L[:, 1:], L[:, -1:]]) - np.hstack([L[:, :1], L[:, :-1]])) / 2
            bmap = W.T @ (np.clip(1 - d / d0, 0, 1) if d0 else np.ones_like(d))
            bmap[KC:] = 0
            bmap *= 0.25

            def prior(a, it, bmap=bmap):
                return (1 - bmap) * a + bmap * geo_pull(a, 1.0)
            s, x = joint_np(m, 200, prior, init=mel_nnls_inverse(m, SPEC))
            out = SPEC.istft(fgla(s, SPEC, n_iter=32, init=x), length=len(y))
            txt = f"{cid[:12]} SC {scdb(mag, SPEC.magnitude(out)):.2f}"
            res.append(txt + (f" PESQ {_pesq(SPEC, y, out):.3f}" if kind == "speech" else ""))
        print(f"adaptive beta, d0 {d0} dB:", " | ".join(res))


def coherence():
    """The prior weighted by the iterate's phase coherence: max(0, cos of the 2nd phase difference)^p."""
    clips = clips_for(SPEC, ["vibe_ace_00-08s", "cmu_arctic_a0007", "allison_vm-review"], False, 4.0)
    for beta, p in ((0.25, 1.0), (0.4, 1.0), (0.4, 2.0), (0.6, 2.0)):
        res = []
        for cid, kind, y in clips:
            mag = SPEC.magnitude(y)
            m = SPEC.mel_from_magnitude(mag)
            s, x = _joint_coherence(m, beta, p)
            out = SPEC.istft(fgla(s, SPEC, n_iter=32, init=x), length=len(y))
            txt = f"{cid[:12]} SC {scdb(mag, SPEC.magnitude(out)):.2f}"
            res.append(txt + (f" PESQ {_pesq(SPEC, y, out):.3f}" if kind == "speech" else ""))
        print(f"coherence-weighted prior, beta {beta}, p {p}:", " | ".join(res))


def _joint_coherence(m, beta, p, n_iter=200, alpha=0.99, steps=3, final=100):
    c = mel_nnls_inverse(m, SPEC).astype(np.complex128)
    xprev = None
    for _ in range(n_iter):
        t = PROJ.from_internal(PROJ.project(PROJ.to_internal(c.astype(np.complex64), np.complex64)))
        t = t.astype(np.complex128)
        a = np.abs(t)
        z = t[:, 1:] * np.conj(t[:, :-1])
        z /= np.maximum(np.abs(z), 1e-30)
        w = np.zeros_like(a)
        w[:, 1:-1] = np.maximum(np.real(z[:, 1:] * np.conj(z[:, :-1])), 0) ** p
        w[:, 0], w[:, -1] = w[:, 1], w[:, -2]
        w[KC:] = 0
        b = beta * w
        s = melstep((1 - b) * a + b * geo_pull(a, 1.0), m, steps)
        x = t * np.where(a > 1e-30, s / np.maximum(a, 1e-30), 0)
        c = x if xprev is None else x + alpha * (x - xprev)
        xprev = x
    a = np.abs(xprev)
    s = melstep(a, m, final)
    g = np.where(a > 1e-30, s / np.maximum(a, 1e-30), 0)
    return s.astype(np.float32), (xprev * g).astype(np.complex64)


def schedule():
    """The geometric prior (beta 0.25, bins < 65) in the first ``stop`` of 200 iterations only."""
    clips = clips_for(SPEC, ["vibe_ace_00-08s", "cmu_arctic_a0007", "allison_vm-review"], False, 4.0)
    for stop in (30, 60, 100, 200):
        res = []
        for cid, kind, y in clips:
            mag = SPEC.magnitude(y)
            m = SPEC.mel_from_magnitude(mag)
            s, x = joint_np(m, 200, lambda a, it, stop=stop: geo_pull(a, 0.25 if it < stop else 0.0, kc=KC),
                            init=mel_nnls_inverse(m, SPEC))
            out = SPEC.istft(fgla(s, SPEC, n_iter=32, init=x), length=len(y))
            txt = f"{cid[:12]} SC {scdb(mag, SPEC.magnitude(out)):.2f}"
            res.append(txt + (f" PESQ {_pesq(SPEC, y, out):.3f}" if kind == "speech" else ""))
        print(f"prior in the first {stop} iterations:", " | ".join(res))


def alternate():
    """Alternate joint and magnitude-fixed fgla stages."""
    s, x = joint_tc_inverse(MEL, SPEC, n_iter=150, prior_iter=None)
    s2, x2 = joint_tc_inverse(MEL, SPEC, n_iter=100, prior_iter=None, init=fgla(s, SPEC, n_iter=50, init=x))
    print("joint_tc 150 > fgla:50 (magnitude fixed) > joint_tc 100:", fin(s2, x2))
    s, x = joint_fgla_inverse(MEL, SPEC, n_iter=150)
    s2, x2 = joint_fgla_inverse(MEL, SPEC, n_iter=100, init=fgla(s, SPEC, n_iter=50, init=x))
    print("joint_fgla 150 > fgla:50 > joint_fgla 100:", fin(s2, x2))


SECTIONS = {f.__name__: f for f in (diagnosis, phase_lock, sparse, coarse, alpha, starts, average, sharpen,
                                    continuity, wide, adaptive, coherence, schedule,
                                    alternate)}

if __name__ == "__main__":
    with threadpool_limits(1):
        for name in sys.argv[1:] or list(SECTIONS):
            print(f"== {name}", flush=True)
            SECTIONS[name]()
