"""How well a stationary harmonic comb describes speech at narrowband8k, against the joint magnitude.

Run from the repository root::

    .venv/bin/python results/narrowband8k_comb.py SET [SPEC] [FMAX_HZ]

``SET`` as in ``results/joint_fgla_quality.py`` (speech clips only), ``SPEC`` default
``narrowband8k``, ``FMAX_HZ`` the top of the region the comb describes (default 1000 Hz).
Per clip, on its voiced frames (the 40 % of frames with the most energy), below
``FMAX_HZ``, it prints the spectral convergence (dB, against the true magnitude) of:

* ``joint``: the default inverter's magnitude (``guarded:200:inner=joint_tcr``);
* ``comb LS``: the best least-squares fit of the *true* magnitude by harmonic lobes (the
  analysis window's transform, 64x oversampled, at ``k F0``, free amplitudes; F0 on a
  0.5 Hz grid, 60-400 Hz, chosen per frame to minimise the residual): the ceiling of any
  stationary harmonic prior with the lobe shapes of the window;
* ``comb mel(trueF0)`` / ``comb mel(jointF0)``: the comb with F0 from the true / the joint
  magnitude and non-negative amplitudes fitted to the mel bands that lie mostly below
  ``FMAX_HZ`` (``scipy.optimize.nnls`` per frame): the prior the issue proposed;

and the share of voiced frames whose two F0 agree within 2 Hz. Also, per frequency region,
the SC of the joint magnitude (where its magnitude is far from the truth). Quoted in
``results/narrowband8k.md``.
"""

from __future__ import annotations

import sys

import numpy as np
from joint_fgla_quality import _clips
from scipy.optimize import nnls
from threadpoolctl import threadpool_limits

from melbench import registry
from melbench.spec import get_spec

OVERSAMPLE = 64
F0_GRID = np.arange(60.0, 400.0, 0.5)
REGIONS_HZ = ((0, 250), (250, 500), (500, 1000), (1000, 2000), (2000, None))


def _sc(est: np.ndarray, ref: np.ndarray) -> float:
    return float(20 * np.log10(np.linalg.norm(est - ref) / np.linalg.norm(ref)))


def main(argv: list[str]) -> int:
    """Print the comb's and the joint magnitude's SC per clip (``argv`` = SET [SPEC] [FMAX_HZ])."""
    which = argv[0]
    spec = get_spec(argv[1] if len(argv) > 1 else "narrowband8k")
    fmax = float(argv[2]) if len(argv) > 2 else 1000.0
    bin_hz = spec.sample_rate / spec.n_fft
    hz = np.arange(spec.n_freq) * bin_hz
    wf = np.abs(np.fft.rfft(spec.window_array, spec.n_fft * OVERSAMPLE))
    wf /= wf[0]
    low = hz < fmax
    bins = np.arange(spec.n_freq)[low]

    def lobe(delta: np.ndarray) -> np.ndarray:
        d = np.abs(delta) * OVERSAMPLE
        i = np.minimum(d.astype(int), len(wf) - 2)
        f = d - i
        return np.where(np.abs(delta) < 6, wf[i] * (1 - f) + wf[i + 1] * f, 0.0)

    def basis(f0: float) -> np.ndarray:
        centres = np.arange(1, int(fmax // f0) + 1) * f0 / bin_hz
        return lobe(bins[:, None] - centres[None, :])

    def f0_track(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best, f = np.full(m.shape[1], np.inf), np.zeros(m.shape[1])
        for f0 in F0_GRID:
            b = basis(f0)
            r = np.sum((m - b @ (np.linalg.pinv(b) @ m)) ** 2, 0)
            sel = r < best
            best[sel], f[sel] = r[sel], f0
        return f, best

    fb = spec.mel_basis(np.float64)
    bands = fb[:, low].sum(1) > 0.5 * fb.sum(1)
    with threadpool_limits(1):
        for cid, kind, y in _clips(which, spec):
            if kind != "speech":
                continue
            mag = spec.magnitude(y).astype(np.float64)
            mel_c = spec.mel_from_magnitude(mag.astype(np.float32))
            mel = spec.decompress(mel_c).astype(np.float64)
            inv = registry.create("inverter", "guarded", {"inner": "joint_tcr"})
            s = np.asarray(inv(mel_c, spec, context={})).astype(np.float64)
            e = (mag ** 2).sum(0)
            vo = e > np.percentile(e, 60)
            ft, rt = f0_track(mag[low])
            fs, _ = f0_track(s[low])
            comb_t, comb_s = s[low].copy(), s[low].copy()
            for t in np.where(vo)[0]:
                for f0, out in ((ft, comb_t), (fs, comb_s)):
                    b = basis(f0[t])
                    a, _ = nnls(fb[bands][:, low] @ b, mel[bands, t])
                    out[:, t] = b @ a
            ref = mag[low][:, vo]
            ls = 10 * np.log10(rt[vo].sum() / np.sum(ref ** 2))
            print(f"{cid[:24]:24s} <{fmax:.0f} Hz: joint {_sc(s[low][:, vo], ref):6.2f}  "
                  f"comb LS {ls:6.2f}  "
                  f"comb mel(trueF0) {_sc(comb_t[:, vo], ref):6.2f}  "
                  f"comb mel(jointF0) {_sc(comb_s[:, vo], ref):6.2f}  "
                  f"F0 agree {np.mean(np.abs(ft - fs)[vo] < 2):.2f}")
            cols = []
            for a_hz, b_hz in REGIONS_HZ:
                r = (hz >= a_hz) & (hz < (b_hz or np.inf))
                cols.append(f"[{a_hz},{b_hz or 'end'}) {_sc(s[r][:, vo], mag[r][:, vo]):6.2f}")
            print(f"{'':24s} joint SC by region (voiced): " + "  ".join(cols), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
