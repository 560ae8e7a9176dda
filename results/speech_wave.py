"""Waveform L-BFGS refinement of a cell's audio (issue 16, round 9): PESQ-wb and time per variant.

Run from the repository root::

    .venv/bin/python results/speech_wave.py SET SPEC START VARIANT [VARIANT ...]

``SET`` as ``results/joint_fgla_quality.py`` (``bundled``, ``suite``, ``suiteN``, plus
``carlo``: the suite's it_IT_m_Carlo speech clips). ``START`` is a ``melbench bench
pipelines`` cell whose audio starts the refinement (run as that benchmark runs it). Each
``VARIANT`` is ``COMPRESSION:EXPONENT:N_ITER[:LOWHZ:LOWW]`` (``power:0.3:20``,
``log:1:20``, ``identity:1:20``; the optional pair weights the bands whose centre is below
``LOWHZ`` by ``LOWW``), run by :func:`melbench.inverters.waveform_refine.refine_waveform`
on the start's audio. librosa ``mel_to_audio`` runs on every clip in the same run: each
mean line gives the start's and the start+refinement's time over librosa's (per clip,
mean and max). One thread, CPU time, PESQ and SC as ``melbench bench pipelines``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _librosa_call, _pesq, clips_for
from melbench.inverters.waveform_refine import refine_waveform
from melbench.measures import spectral_convergence_db
from melbench.mel_scale import hz_to_mel, mel_to_hz
from melbench.spec import get_spec


def _clips(which: str, spec):
    if which == "bundled":
        return [c for c in clips_for(spec, None, False, 4.0) if c[1] == "speech"]
    from melbench.datasets.eval_suite import EvalSuite

    clips = [(c.id, c.meta.get("kind", ""), np.asarray(c.audio, np.float32))
             for c in EvalSuite().clips(spec) if not c.error and c.meta.get("kind") == "speech"]
    if which == "carlo":
        return [c for c in clips if "Carlo" in c[0]]
    n = int(which[5:] or 0)
    return clips[:: max(1, len(clips) // n)][:n] if n else clips


def _weights(spec, low_hz: float, low_w: float) -> np.ndarray:
    lo, hi = hz_to_mel(spec.fmin, htk=spec.htk), hz_to_mel(spec.fmax, htk=spec.htk)
    edges = np.linspace(lo, hi, spec.n_mels + 2)
    centres = mel_to_hz(edges, htk=spec.htk)[1:-1]
    return np.where(centres < low_hz, low_w, 1.0)


def main(argv: list[str]) -> int:
    """Measure the variants (``argv`` = SET SPEC START VARIANT...) and print the means."""
    which, spec_name, start, variants = argv[0], argv[1], argv[2], argv[3:]
    spec = get_spec(spec_name)
    rows: dict[str, list] = {v: [] for v in ["librosa", start, *variants]}
    with threadpool_limits(1):
        for cid, _kind, y in _clips(which, spec):
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            lin = spec.decompress(mel)
            fn, arg = _librosa_call(spec, len(y)), lin
            _librosa_call(spec, None)(arg[..., :16])
            t0 = time.process_time()
            out = np.asarray(fn(arg), np.float32)[: len(y)]
            t_lib = time.process_time() - t0
            sc = spectral_convergence_db(mag, spec.magnitude(out))
            rows["librosa"].append((_pesq(spec, y, out), sc, t_lib, 1.0))
            fn = _cell_call(start, spec, len(y), mag, 0)
            fn(mel[..., :16])
            t0 = time.process_time()
            x0 = np.asarray(fn(mel), np.float32)[: len(y)]
            t_start = time.process_time() - t0
            p0 = _pesq(spec, y, x0)
            sc = spectral_convergence_db(mag, spec.magnitude(x0))
            rows[start].append((p0, sc, t_start, t_start / t_lib))
            line = [f"{cid[-40:]:40s} lib {rows['librosa'][-1][0]:.2f} start {p0:.2f}"]
            for v in variants:
                parts = v.split(":")
                comp, expo, n_iter = parts[0], float(parts[1]), int(parts[2])
                w = _weights(spec, float(parts[3]), float(parts[4])) if len(parts) > 3 else None
                t0 = time.process_time()
                x = refine_waveform(x0, lin, spec, n_iter=n_iter, compression=comp, exponent=expo,
                                    band_weight=w)
                dt = time.process_time() - t0 + t_start
                p = _pesq(spec, y, x)
                rows[v].append((p, spectral_convergence_db(mag, spec.magnitude(x)), dt, dt / t_lib))
                line.append(f"{v} {p:.2f}")
            print("  ".join(line), flush=True)
    base = np.array(rows[start])
    for v, r in rows.items():
        a = np.array(r)
        d = a[:, 0] - base[:, 0]
        rng = np.random.default_rng(0)
        boots = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
        lo, hi = np.percentile(boots, [2.5, 97.5])
        print(f"MEAN {v:40s} n={len(a):3d} PESQ {a[:, 0].mean():5.3f} (vs start {d.mean():+.3f} "
              f"[{lo:+.3f}, {hi:+.3f}]) SC {a[:, 1].mean():7.2f} s {a[:, 2].mean():6.3f} "
              f"x librosa mean {a[:, 3].mean():.2f} max {a[:, 3].max():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
