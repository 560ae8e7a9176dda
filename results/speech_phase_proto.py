"""Prototype: a speech-production model of the low-band phase of voiced frames (issue 16).

Run from the repository root::

    .venv/bin/python results/speech_phase_proto.py SET [VARIANT ...]

Per speech clip of ``SET`` (as ``results/joint_fgla_quality.py``) the default's inner method
(``joint_tc``, 200 iterations) runs once (cached in /tmp/speech_phase_cache), then every
variant builds a phase and is scored by PESQ-wb. See ``results/speech_phase.md``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from joint_fgla_quality import _clips
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _pesq
from melbench.inverters.joint_continuity import joint_tc_inverse
from melbench.inverters.joint_fgla import joint_fgla_inverse
from melbench.phase.projections import fgla
from melbench.spec import get_spec

CACHE = "/tmp/speech_phase_cache"
TABLE = None


def unit(z):
    """Unit phasors ``z / |z|`` (0 stays 0)."""
    return z / np.maximum(np.abs(z), 1e-12)


# ---------------------------------------------------------------- F0
def f0_track(mag, spec, fmin=70.0, fmax=400.0, step=0.5, top_hz=1000.0):
    """Harmonic-minus-interharmonic F0 per frame on a magnitude (n_freq, T). Returns (f0, score)."""
    sr, nfft = spec.sample_rate, spec.n_fft
    binhz = sr / nfft
    nb = int(top_hz / binhz) + 2
    a = np.sqrt(mag[:nb])  # compress
    cands = np.arange(fmin, fmax, step)
    rows, cols, vals = [], [], []
    for ci, f in enumerate(cands):
        nh = int(top_hz // f)
        h = np.arange(1, nh + 1)
        pos = np.concatenate([h * f, (h - 0.5) * f]) / binhz
        sign = np.concatenate([np.ones(nh), -np.ones(nh)]) / nh
        i0 = np.floor(pos).astype(int)
        fr = pos - i0
        rows += [ci] * (2 * len(pos))
        cols += list(i0) + list(i0 + 1)
        vals += list(sign * (1 - fr)) + list(sign * fr)
    import scipy.sparse as sp

    P = sp.csr_matrix((vals, (rows, cols)), shape=(len(cands), nb + 2))
    A = np.zeros((nb + 2, a.shape[1]), a.dtype)
    A[:nb] = a
    sc = P @ A  # (C, T)
    norm = a.mean(axis=0) + 1e-12
    best = np.argmax(sc, axis=0)
    score = sc[best, np.arange(sc.shape[1])] / norm
    # parabolic refine
    b = np.clip(best, 1, len(cands) - 2)
    y0, y1, y2 = sc[b - 1, np.arange(len(b))], sc[b, np.arange(len(b))], sc[b + 1, np.arange(len(b))]
    den = y0 - 2 * y1 + y2
    d = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-12, den, 1), 0)
    f0 = cands[b] + np.clip(d, -1, 1) * step
    return f0, score


# ---------------------------------------------------------------- min phase
def minphase_phase(mag, spec, lifter_ms=None, f0=None):
    """Minimum-phase response (radians, unwrapped by construction) of each frame's envelope.

    mag (n_freq, T). Envelope = real cepstrum of log mag liftered below ``lifter`` quefrency
    samples (default: 0.8 of the pitch period if f0 given per frame, else 2.5 ms).
    """
    nfft = spec.n_fft
    lm = np.log(np.maximum(mag, 1e-8 * mag.max() + 1e-20))
    c = np.fft.irfft(lm, n=nfft, axis=0)  # (nfft, T)
    q = np.arange(nfft // 2 + 1)[:, None]
    if f0 is not None:
        L = 0.7 * spec.sample_rate / np.maximum(f0, 50.0)[None, :]
    else:
        L = np.full((1, mag.shape[1]), (lifter_ms or 2.5) * 1e-3 * spec.sample_rate)
    fold = np.zeros((nfft, mag.shape[1]))
    w = np.where(q == 0, 1.0, np.where(q < L, 2.0, 0.0))
    w[nfft // 2] = 0.0
    fold[: nfft // 2 + 1] = c[: nfft // 2 + 1] * w
    spec_c = np.fft.rfft(fold, axis=0)
    return spec_c.imag, np.exp(spec_c.real)  # phase, envelope magnitude


# ---------------------------------------------------------------- synthesis
def synth_low(s, spec, f0, voiced, n, *, top_hz=1200.0, pulse="minphase", env_src=None, amp="peak",
              theta_off=0.0):
    """Time-domain harmonic synthesis of the band below top_hz; returns audio (n,)."""
    sr, hop, nfft = spec.sample_rate, spec.hop_length, spec.n_fft
    binhz = sr / nfft
    T = s.shape[1]
    centers = np.arange(T) * hop - spec.frame_padding + nfft // 2
    mag = np.sqrt(s) if spec.power == 2 else s
    envsrc = mag if env_src is None else env_src
    if pulse in ("minphase", "minphase_rosen"):
        psi_grid, _ = minphase_phase(envsrc, spec, f0=np.where(voiced, f0, 150.0))
    else:
        psi_grid = np.zeros_like(mag)
    f0v = np.where(voiced, f0, np.nan)
    # fill unvoiced F0 by nearest for phase continuity (amplitude is zero there)
    idx = np.arange(T)
    good = ~np.isnan(f0v)
    if not good.any():
        return np.zeros(n, np.float32)
    f0f = np.interp(idx, idx[good], f0v[good])
    t_s = np.arange(n)
    f0_s = np.interp(t_s, centers, f0f)
    theta = 2 * np.pi * np.cumsum(f0_s) / sr + theta_off
    nh = int(top_hz // f0f.min()) + 1
    y = np.zeros(n)
    vm = voiced.astype(float)
    for h in range(1, nh + 1):
        fk = h * f0f  # per frame
        ok = fk < top_hz
        pos = fk / binhz
        i0 = np.clip(np.floor(pos).astype(int), 0, mag.shape[0] - 2)
        fr = pos - i0
        A = (1 - fr) * mag[i0, idx] + fr * mag[i0 + 1, idx]
        if amp == "peak":  # local max near
            A = np.maximum(A, np.maximum(mag[i0, idx], mag[i0 + 1, idx]))
        psi = (1 - fr) * psi_grid[i0, idx] + fr * psi_grid[i0 + 1, idx]
        if pulse == "minphase_rosen" or pulse == "rosen":
            psi = psi + glottal_formant_phase(fk)
        A = A * vm * ok
        A_s = np.interp(t_s, centers, A)
        # psi may jump by 2pi multiples between frames? it is unwrapped (cepstral); interp directly
        psi_s = np.interp(t_s, centers, psi)
        y += A_s * np.cos(h * theta + psi_s)
    return y.astype(np.float32)


def glottal_formant_phase(f):
    """Phase (rad) at ``f`` (Hz) of a maximum-phase glottal formant (the "rosen" pulse variant).

    The open phase of a Rosenberg / LF pulse behaves like an anticausal second-order
    resonance (the glottal formant of the CALM model, Doval, d'Alessandro & Henrich
    2003); here a fixed one at 150 Hz with a 200 Hz bandwidth (poles outside the unit
    circle), its phase added to the model's ``psi``.
    """
    fg, bw = 150.0, 200.0
    r = np.exp(-np.pi * bw / 16000.0)
    w = 2 * np.pi * f / 16000.0
    wg = 2 * np.pi * fg / 16000.0
    z = np.exp(1j * w)
    # anticausal pole pair: H(z) = 1 / ((1 - z/p)(1 - z/p*)) with |p| > 1 -> max phase
    p = np.exp(1j * wg) / r
    H = 1.0 / ((1 - z / p) * (1 - z / np.conj(p)))
    return np.angle(H)


# ---------------------------------------------------------------- per clip
def load(which, spec):
    """``(id, audio, s, x)`` per speech clip; ``s, x`` of ``joint_tc`` 200 (cached)."""
    os.makedirs(CACHE, exist_ok=True)
    out = []
    for cid, kind, y in _clips(which, spec):
        if kind != "speech":
            continue
        fn = os.path.join(CACHE, f"speech16k_{cid.replace('/', '_')}.npz")
        if os.path.exists(fn):
            d = np.load(fn)
            out.append((cid, y, d["s"], d["x"]))
            continue
        mag = spec.magnitude(y)
        mel = spec.mel_from_magnitude(mag)
        s, x = joint_tc_inverse(mel, spec, n_iter=200)
        np.savez(fn, s=s, x=x)
        out.append((cid, y, s, x))
    return out


def f0_check(which):
    """Agreement of f0_track (on the true and on the joint magnitude) with librosa.pyin."""
    import librosa

    spec = get_spec("speech16k")
    tot = {}
    for _cid, y, s, _x in load(which, spec):
        f0p, vf, _ = librosa.pyin(y, fmin=65, fmax=400, sr=spec.sample_rate, frame_length=spec.n_fft,
                                  hop_length=spec.hop_length, center=True)
        T = min(len(f0p), s.shape[1])
        for nm, m in (("true", spec.magnitude(y)), ("joint", s)):
            f0, sc = f0_track(m, spec)
            v = vf[:T]
            ok = np.abs(f0[:T][v] / f0p[:T][v] - 1) < 0.05
            for th in (0.5, 1.0):
                vv = sc[:T] > th
                d = tot.setdefault((nm, th), np.zeros(5))
                near = np.abs(f0[:T] / np.where(v, f0p[:T], 1) - 1) < 0.05
                d += [ok.sum(), v.sum(), (vv & v).sum(), vv.sum(), (vv & v & near).sum()]
    for (nm, th), d in tot.items():
        print(f"F0 from {nm:5s} magnitude: within 5% of pyin on {d[0] / d[1]:.1%} of pyin-voiced frames; "
              f"voiced (score > {th}) on {d[2] / d[1]:.1%} of them, {1 - d[2] / max(d[3], 1):.1%} of ours "
              f"are pyin-unvoiced; within 5% on {d[4] / max(d[2], 1):.1%} of the frames both call voiced")


def main(argv):
    """Score every variant (``argv`` = SET VARIANT...) or run ``f0check``."""
    which = argv[0]
    if len(argv) > 1 and argv[1] == "f0check":
        return f0_check(which)
    variants = argv[1:] or ["base"]
    spec = get_spec("speech16k")
    res = {}
    tim = {}
    with threadpool_limits(1):
        clips = load(which, spec)
        for cid, y, s, x in clips:
            n = len(y)
            X = spec.stft(y)
            mag = np.abs(X)
            nlow = 64
            bins = np.arange(s.shape[0])[:, None]
            for v in variants:
                t0 = time.process_time()
                o = run_variant(v, y, s, x, X, mag, spec, n, bins, nlow)
                tim.setdefault(v, []).append(time.process_time() - t0)
                res.setdefault(v, []).append(_pesq(spec, y, o))
            print(cid[:30], " ".join(f"{v}={res[v][-1]:.3f}" for v in variants), flush=True)
    for v in variants:
        print(f"MEAN {v:50s} n={len(res[v])} PESQ {np.mean(res[v]):.3f} s {np.mean(tim[v]):.3f}")


def opts(v):
    """``name:key=val:...`` -> (name, {key: val})."""
    parts = v.split(":")
    d = {}
    for p in parts[1:]:
        k, _, val = p.partition("=")
        d[k] = val
    return parts[0], d


def pull_run(mel, spec, o, n_iter=200):
    """``joint_tc`` with a pull of the voiced low band's phase towards the harmonic model.

    ``joint_tc``'s prior (beta 0.25 below 1 kHz in the first 150 iterations) plus, every
    ``every`` iterations in ``[start, stop)``, the low-band phase of voiced frames moved
    to ``unit(unit(t) + lam unit(Z))``, ``Z`` the model aligned per frame (theta, c) to the
    current iterate.
    """
    from melbench.inverters.joint_continuity import _k_continuity

    table, over = TABLE if TABLE else window_transform(spec)
    n_bins = int(np.floor(1000.0 * spec.n_fft / spec.sample_rate)) + 1
    start, stop, every = (int(v) for v in o.get("win", "50-150-5").split("-"))
    lam = float(o.get("lam", 0.3))
    nl = int(o.get("nlow", 64))
    pulse = o.get("pulse", "zero")
    state = {}

    def prior(it, t):
        if it < 150:
            _k_continuity(t, np.empty(t.shape, t.real.dtype), t.real.dtype.type(0.25), n_bins)
        if start <= it < stop and (it - start) % every == 0:
            tT = t.T
            m = np.abs(tT)
            if "f0" not in state or o.get("refit"):
                f0, sc = f0_track(m, spec)
                state["f0"], state["v"] = f0, sc > float(o.get("vth", 1.0))
            f0, voiced = state["f0"], state["v"]
            if o.get("noop"):
                return
            if o.get("jitter"):  # a last-bit perturbation only: the noise floor of the comparison
                if o["jitter"] == "rand":
                    rng = np.random.default_rng(it + 1000 * int(o.get("seed", 0)))
                    tT[:nl] *= (1 + 1e-6 * rng.standard_normal(tT[:nl].shape)).astype(np.float32)
                else:
                    tT[:nl] *= np.float32(1 + 1e-6)
                return
            if not voiced.any():
                return
            pos, A, psi = harmonic_params(m, spec, f0, voiced, pulse=pulse)
            theta, c = fit_theta(pos, A, psi, tT, spec, (0, nl), table, over, offset=True)
            phi = np.arange(1, pos.shape[0] + 1)[:, None] * theta[None] + psi + c[None]
            Z = synth_frames(pos, A, phi, spec, nl, table, over)
            low = tT[:nl]
            mask = voiced[None, :] & (m[:nl] > 0)
            if o.get("peaks"):
                near = np.min(np.abs(np.arange(nl)[:, None, None] - pos[None]), axis=1) <= float(o["peaks"])
                mask &= near
            new = m[:nl] * unit(unit(low) + lam * unit(Z))
            tT[:nl] = np.where(mask, new, low)

    return joint_fgla_inverse(mel, spec, n_iter=n_iter, prior=prior)


def run_variant(v, y, s, x, X, mag, spec, n, bins, nlow):
    """Audio of one variant label (see ``results/speech_phase.md`` for the grammar)."""
    name, o = opts(v)
    tail = int(o.get("fgla", 0))
    if name == "base":
        z = x
    elif name == "pull":
        s, z = pull_run(spec.mel_from_magnitude(mag), spec, o)
    elif name == "jointlow":  # joint phase in the voiced low band (as "frame" defines it), truth elsewhere
        f0, sc = f0_track(s, spec)
        voiced = sc > float(o.get("vth", 1.0))
        z = s * np.where((bins < int(o.get("nlow", nlow))) & voiced[None, :], unit(x), unit(X))
    elif name == "truelow":
        z = s * np.where(bins < nlow, unit(X), unit(x))
    elif name == "model":
        src = o.get("f0", "est")
        if src == "true":
            f0, sc = f0_track(mag, spec)
        else:
            f0, sc = f0_track(s, spec)
        voiced = sc > float(o.get("vth", 1.0))
        env = mag if o.get("env") == "true" else None
        pulse = o.get("pulse", "minphase")
        yl = synth_low(s, spec, f0, voiced, n, pulse=pulse, env_src=env, top_hz=float(o.get("top", 1200)))
        Z = spec.stft(yl)
        low = (bins < int(o.get("nlow", nlow))) & voiced[None, :] & (np.abs(Z) > 1e-3 * np.abs(Z).max())
        z = s * np.where(low, unit(Z), unit(x))
    elif name == "frame":
        if o.get("f0") == "pyin":
            import librosa
            f0p, vf, _ = librosa.pyin(y, fmin=65, fmax=400, sr=spec.sample_rate, frame_length=spec.n_fft,
                                      hop_length=spec.hop_length, center=True)
            T = s.shape[1]
            f0 = np.where(vf, f0p, 150.0)[:T]
            voiced = vf[:T]
        else:
            f0, sc = f0_track(mag if o.get("f0") == "true" else s, spec)
            voiced = sc > float(o.get("vth", 1.0))
        env = mag if o.get("env") == "true" else None
        top = float(o.get("top", 1200))
        pos, A, psi = harmonic_params(s, spec, f0, voiced, env_src=env, pulse=o.get("pulse", "minphase"),
                                      top_hz=max(top, float(o.get("fit_top", 0))))
        if o.get("amp") == "true":
            pos2, A, _ = harmonic_params(mag**2 if spec.power == 2 else mag, spec, f0, voiced,
                                         top_hz=float(o.get("top", 1200)))
        table, over = TABLE if TABLE else window_transform(spec)
        ref = {"true": X, "joint": x}[o.get("ref", "joint")]
        band = tuple(int(b) for b in o.get("band", "64-192").split("-"))
        theta, c = fit_theta(pos, A, psi, ref, spec, band, table, over, offset=bool(o.get("offset")))
        A = A * (pos * spec.sample_rate / spec.n_fft < top)  # synthesise below top only
        phi = np.arange(1, pos.shape[0] + 1)[:, None] * theta[None] + psi + c[None]
        if o.get("truepeak"):
            bb = np.clip(np.round(pos).astype(int), 0, spec.n_freq - 1)
            tt = np.arange(s.shape[1])
            wph = np.angle(table[np.round((bb - pos) * over).astype(int) % len(table)])
            phi = np.angle(X[bb, tt]) + np.pi * pos - wph
        nl = int(o.get("nlow", nlow))
        if o.get("td"):
            yl = synth_td(pos, A, phi, spec, n, f0, voiced)
            Z = spec.stft(yl)[:nl]
        else:
            Z = synth_frames(pos, A, phi, spec, nl, table, over)
        low = np.zeros(s.shape, bool)
        low[:nl] = voiced[None, :] & (np.abs(Z) > 1e-3 * np.abs(Z).max())
        if o.get("peaks"):
            near = np.min(np.abs(np.arange(nl)[:, None, None] - pos[None]), axis=1) <= float(o["peaks"])
            low[:nl] &= near
        Zf = np.zeros(s.shape, complex)
        Zf[:nl] = Z
        hi = unit(X) if o.get("high") == "true" else unit(x)
        if o.get("high") == "mixed":  # true phase in the low band outside the mask, joint above
            hi = np.where(bins < nl, unit(X), unit(x))
        lam = float(o.get("blend", 0))
        lowph = unit(hi + lam * unit(Zf)) if lam > 0 else unit(Zf)
        z = s * np.where(low, lowph, hi)
    else:
        raise SystemExit(f"unknown variant {v}")
    ji = int(o.get("joint", 0))
    if ji:
        mel = spec.mel_from_magnitude(mag)
        s, z = joint_fgla_inverse(mel, spec, n_iter=ji, init=z.astype(np.complex64))
    if tail:
        z = fgla(s, spec, n_iter=tail, init=z)
    return spec.istft(z, length=n)



# ---------------------------------------------------------------- per-frame synthetic STFT (option a)
def window_transform(spec, over=64):
    """W(d) = sum_m w[m] e^{-i d m}, tabulated on d = 2 pi j / (N over); returns (table, over)."""
    w = spec.window_array
    N = spec.n_fft
    return np.fft.fft(w, N * over), over


def harmonic_params(s, spec, f0, voiced, env_src=None, pulse="minphase", top_hz=1200.0):
    """Per frame and harmonic: frequency (bins), amplitude, model phase offset psi. (H, T) each."""
    binhz = spec.sample_rate / spec.n_fft
    mag = np.sqrt(s) if spec.power == 2 else s
    T = s.shape[1]
    idx = np.arange(T)
    envsrc = mag if env_src is None else env_src
    if pulse in ("minphase", "minphase_rosen"):
        psi_grid, _ = minphase_phase(envsrc, spec, f0=np.where(voiced, f0, 150.0))
    else:
        psi_grid = np.zeros_like(mag)
    nh = int(top_hz // max(f0[voiced].min() if voiced.any() else 70.0, 50.0)) + 1
    h = np.arange(1, nh + 1)[:, None]
    pos = h * f0[None, :] / binhz
    i0 = np.clip(np.floor(pos).astype(int), 0, mag.shape[0] - 2)
    fr = pos - i0
    A = np.maximum(mag[i0, idx], mag[i0 + 1, idx])
    psi = (1 - fr) * psi_grid[i0, idx] + fr * psi_grid[i0 + 1, idx]
    if pulse in ("rosen", "minphase_rosen"):
        psi = psi + glottal_formant_phase(pos * binhz)
    A = 2.0 * A / spec.window_array.sum() * (pos * binhz < top_hz) * voiced[None, :]
    return pos, A, psi


def synth_frames(pos, A, phi, spec, nlow, table, over):
    """Z (nlow, T): sum_h A e^{i(phi - pi pos)} W(2 pi (k - pos) / N) (+ the negative image)."""
    L = len(table)
    k = np.arange(nlow)[:, None, None]
    d = (k - pos[None]) * over  # in table steps
    j = np.round(d).astype(int) % L
    # phase reference: frame start, sinusoid phase phi at the frame centre -> e^{i(phi - w0 N/2)}
    ph = phi - np.pi * pos  # w0 N / 2 = pi * pos
    Z = (A[None] * np.exp(1j * ph)[None] * table[j]).sum(axis=1)
    dn = (k + pos[None]) * over
    jn = np.round(dn).astype(int) % L
    Z += (A[None] * np.exp(-1j * ph)[None] * table[jn]).sum(axis=1)
    return 0.5 * Z


def fit_theta(pos, A, psi, ref, spec, band, table, over, n_grid=64, offset=False):
    """Per frame theta maximising Re <Z_theta, ref> over bins in band (ref complex (F, T))."""
    a, b = band
    k = np.arange(a, b)[:, None, None]
    L = len(table)
    j = np.round((k - pos[None]) * over).astype(int) % L
    G = 0.5 * A[None] * np.exp(1j * (psi - np.pi * pos))[None] * table[j]  # (K, H, T)
    # corr(theta) = Re sum_k conj(ref_k) sum_h G_kh e^{i h theta} = Re sum_h C_h e^{i h theta}
    C = (np.conj(ref[a:b])[:, None, :] * G).sum(axis=0)  # (H, T)
    th = np.linspace(0, 2 * np.pi, n_grid, endpoint=False)
    h = np.arange(1, pos.shape[0] + 1)
    E = np.exp(1j * h[None, :, None] * th[:, None, None])  # (G, H, 1)
    S = (E * C[None]).sum(axis=1)  # (G, T)
    if offset:
        gi = np.argmax(np.abs(S), axis=0)
        return th[gi], -np.angle(S[gi, np.arange(S.shape[1])])
    best = th[np.argmax(np.real(S), axis=0)]
    return best, np.zeros_like(best)



def synth_td(pos, A, phi, spec, n, f0, voiced):
    """Time-domain harmonic synthesis: harmonic h has phase phi[h, t] at frame centre t.

    The phase between centres is h * theta0(n) + a linearly interpolated correction
    (theta0 integrated from the F0 track; the correction unwrapped along frames), the
    amplitude linearly interpolated (McAulay & Quatieri 1986 with linear phase correction).
    """
    sr, hop, nfft = spec.sample_rate, spec.hop_length, spec.n_fft
    T = pos.shape[1]
    centers = np.arange(T) * hop - spec.frame_padding + nfft // 2
    idx = np.arange(T)
    good = voiced
    if not good.any():
        return np.zeros(n, np.float32)
    f0f = np.interp(idx, idx[good], f0[good])
    t_s = np.arange(n)
    f0_s = np.interp(t_s, centers, f0f)
    theta = 2 * np.pi * np.cumsum(f0_s) / sr
    th_c = np.interp(centers, t_s, theta)
    y = np.zeros(n)
    for h in range(pos.shape[0]):
        corr = np.unwrap(phi[h] - (h + 1) * th_c)
        a_s = np.interp(t_s, centers, A[h])
        c_s = np.interp(t_s, centers, corr)
        y += a_s * np.cos((h + 1) * theta + c_s)
    return y.astype(np.float32)


if __name__ == "__main__":
    main(sys.argv[1:])
