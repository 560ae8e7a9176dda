"""Oracle checks of the harmonic (speech-production) model of the low-band phase (issue 16).

Run from the repository root::

    PYTHONPATH=results .venv/bin/python results/speech_phase_oracle.py SET [refine] [strong=S]

``SET`` as in ``results/joint_fgla_quality.py`` (speech clips only; ``suite10`` in
``results/speech_phase.md``). F0 and voicing from ``librosa.pyin`` on the *true* audio
(an oracle F0; with ``refine`` replaced by ``f0_track`` of the true magnitude, 0.5 Hz grid,
where the two agree within 5 %; with ``strong=S`` only frames whose harmonic score
``f0_track`` gives on the true magnitude exceeds ``S`` count as voiced), the joint
estimate from ``joint_tc`` 200 (cached by ``results/speech_phase_proto.py``). Prints:

1. the phase coherence per harmonic (mean resultant length of the phase error at the
   harmonic's nearest bin, loud voiced frames, after fitting per frame the pulse phase
   ``theta`` and a common offset ``c``, i.e. ``phi_h = h theta + psi_h + c``) of the joint
   phase and of the model's ``psi`` (minimum phase of the true envelope, zero phase,
   a maximum-phase glottal formant, both, minimum phase of the joint envelope);
2. mean PESQ-wb of the true magnitude with the low band (FFT bins < 64, pyin-voiced frames)
   taking the phase of (a) the joint estimate, (b) a time-domain harmonic synthesis
   (``synth_td``) whose harmonics have the *true* STFT phase at every frame centre and
   the true amplitudes: the best any harmonic-model phase can do at this framing; and the
   same synthesis as a complex low band (magnitude and phase) crossed over with the truth.
"""

from __future__ import annotations

import sys

import librosa
import numpy as np
import speech_phase_proto as P

from melbench.bench.pipelines import _pesq
from melbench.spec import get_spec

NLOW = 64
REFINE = False
STRONG = 0.0
H = 8


def main(argv: list[str]) -> int:
    """Print the coherence table and the PESQ of the oracle-fed model (``argv`` = SET)."""
    global REFINE, STRONG
    REFINE = "refine" in argv[1:]
    STRONG = float(next((a[7:] for a in argv[1:] if a.startswith("strong=")), 0.0))
    spec = get_spec("speech16k")
    table, over = P.window_transform(spec)
    coh: dict[tuple[str, int], list] = {}
    pes: dict[str, list[float]] = {}
    th = np.linspace(0, 2 * np.pi, 128, endpoint=False)
    for _cid, y, s, x in P.load(argv[0], spec):
        n = len(y)
        X = spec.stft(y)
        mag = np.abs(X)
        f0p, vf, _ = librosa.pyin(y, fmin=65, fmax=400, sr=spec.sample_rate, frame_length=spec.n_fft,
                                  hop_length=spec.hop_length, center=True)
        T = X.shape[1]
        f0 = np.where(vf, f0p, 150.0)[:T]
        voiced = vf[:T]
        if REFINE:  # our 0.5 Hz-grid estimator on the true magnitude where it agrees with pyin
            f0r, _ = P.f0_track(mag, spec)
            f0 = np.where(voiced & (np.abs(f0r / f0 - 1) < 0.05), f0r, f0)
        if STRONG:  # only strongly periodic frames (harmonic score of the true magnitude > STRONG)
            voiced = voiced & (P.f0_track(mag, spec)[1] > STRONG)
        tt = np.arange(T)
        e = (mag[:NLOW] ** 2).sum(0)
        loud = voiced & (e > 0.01 * e.max())
        # 1. coherence per harmonic
        cands = {"joint phase": x}
        for nm, pulse, env in (("min phase, true envelope", "minphase", mag), ("zero phase", "zero", mag),
                               ("max-phase glottal formant", "rosen", mag),
                               ("min phase + glottal formant", "minphase_rosen", mag),
                               ("min phase, joint envelope", "minphase", s)):
            pos, A, psi = P.harmonic_params(mag, spec, f0, voiced, env_src=env, pulse=pulse)
            Z = np.zeros_like(X)
            Z[:NLOW] = P.synth_frames(pos, A, psi, spec, NLOW, table, over)
            cands[nm] = Z
        pos = np.arange(1, H + 1)[:, None] * f0[None] / (spec.sample_rate / spec.n_fft)
        b = np.clip(np.round(pos).astype(int), 0, NLOW - 1)
        w = mag[b, tt]
        for nm, Z in cands.items():
            d = np.angle(Z[b, tt] * np.conj(X[b, tt]))
            E = np.exp(1j * (d[None] - np.arange(1, H + 1)[None, :, None] * th[:, None, None]))
            gi = np.argmax(np.abs((w[None] * E).sum(1)), 0)
            res = E[gi, :, tt].T
            res = res * np.exp(-1j * np.angle((w * res).sum(0)))[None]
            for h in range(H):
                coh.setdefault((nm, h), []).append(res[h][loud & (pos[h] < NLOW - 1)])
        # 2. PESQ with the oracle-fed harmonic synthesis
        pos, A, _ = P.harmonic_params(mag, spec, f0, voiced, pulse="zero")
        bb = np.clip(np.round(pos).astype(int), 0, spec.n_freq - 1)
        wph = np.angle(table[np.round((bb - pos) * over).astype(int) % len(table)])
        phi = np.angle(X[bb, tt]) + np.pi * pos - wph
        Ztd = spec.stft(P.synth_td(pos, A, phi, spec, n, f0, voiced))
        low = (np.arange(spec.n_freq)[:, None] < NLOW) & voiced[None]
        outs = {"true magnitude + true phase": X,
                "true magnitude, joint phase in the voiced low band":
                    mag * np.where(low, P.unit(x), P.unit(X)),
                "true magnitude, oracle-fed harmonic-model phase there":
                    mag * np.where(low, P.unit(Ztd), P.unit(X)),
                "oracle-fed harmonic synthesis (complex) there, truth elsewhere": np.where(low, Ztd, X)}
        for k, z in outs.items():
            pes.setdefault(k, []).append(_pesq(spec, y, np.asarray(spec.istft(z, length=n), np.float32)))
        print(_cid[:30], flush=True)
    print("phase coherence per harmonic h1..h8 (1 = the truth up to theta and c):")
    for nm in dict.fromkeys(k[0] for k in coh):
        print(f"  {nm:30s}", " ".join(f"{np.abs(np.concatenate(coh[(nm, h)]).mean()):.2f}" for h in range(H)))
    for k, v in pes.items():
        print(f"PESQ {np.mean(v):.3f}  {k} (n={len(v)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
