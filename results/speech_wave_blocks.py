"""Segment-wise selection among starts (issue 16, round 9, direction b): PESQ-wb of the picks.

Run from the repository root::

    .venv/bin/python results/speech_wave_blocks.py SET SPEC BLOCK CELL [CELL ...]

``SET`` as ``results/speech_wave.py``. Each ``CELL`` (a ``melbench bench pipelines`` cell)
is one start; its audio is scored per time block of ``BLOCK`` frames by the mean absolute
log-mel distance (dB) to the given mel over the bands whose centre is below 1 kHz, in the
frames within 40 dB of the clip's loudest. Printed per start and for: the per-clip pick by
the same distance over the whole clip, the per-block pick stitched in the time domain (a
linear crossfade of one hop each side of a block edge), that stitch after 20 iterations of
``refine_waveform`` (identity loss), the first cell's audio after the same 20 iterations
(the control), and the per-clip PESQ-oracle pick. Quality only: the
starts' times add up (K times one cell).
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _pesq
from melbench.inverters.waveform_refine import refine_waveform
from melbench.mel_scale import hz_to_mel, mel_to_hz
from melbench.spec import get_spec

sys.path.insert(0, "results")
from speech_wave import _clips  # noqa: E402


def _low_bands(spec, low_hz=1000.0):
    lo, hi = hz_to_mel(spec.fmin, htk=spec.htk), hz_to_mel(spec.fmax, htk=spec.htk)
    centres = mel_to_hz(np.linspace(lo, hi, spec.n_mels + 2), htk=spec.htk)[1:-1]
    return centres < low_hz


def _frame_distance(spec, x, mel_db, low, active):
    est = spec.mel(x, compress=False)[..., : mel_db.shape[-1]]
    d = np.abs(20 * np.log10(np.maximum(est, 1e-8)) - mel_db)[low].mean(axis=0)
    return np.where(active, d, 0.0)


def main(argv: list[str]) -> int:
    """Measure the picks (``argv`` = SET SPEC BLOCK CELL...)."""
    which, spec_name, block, cells = argv[0], argv[1], int(argv[2]), argv[3:]
    spec = get_spec(spec_name)
    low = _low_bands(spec)
    names = [*cells, "clip pick", "block pick", "block pick + wave:20", "first cell + wave:20",
             "PESQ-oracle pick"]
    res: dict[str, list] = {k: [] for k in names}
    with threadpool_limits(1):
        for cid, _kind, y in _clips(which, spec):
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            lin = spec.decompress(mel)
            mel_db = 20 * np.log10(np.maximum(lin, 1e-8))
            frame_db = 20 * np.log10(np.maximum(lin.sum(axis=0), 1e-8))
            active = frame_db > frame_db.max() - 40
            outs = [np.asarray(_cell_call(c, spec, len(y), mag, 0)(mel), np.float32)[: len(y)] for c in cells]
            dist = np.array([_frame_distance(spec, x, mel_db, low, active) for x in outs])  # (K, T)
            pesqs = [_pesq(spec, y, x) for x in outs]
            for c, p in zip(cells, pesqs, strict=True):
                res[c].append(p)
            res["clip pick"].append(pesqs[int(np.argmin(dist.sum(axis=1)))])
            res["PESQ-oracle pick"].append(max(pesqs))
            n_t = dist.shape[1]
            edges = list(range(0, n_t, block))
            choice = np.empty(n_t, dtype=int)
            for e in edges:
                choice[e : e + block] = int(np.argmin(dist[:, e : e + block].sum(axis=1)))
            hop = spec.hop_length
            w = np.zeros((len(cells), len(y)), np.float32)
            for k in range(len(cells)):  # frame t covers samples around t * hop (centre framing)
                wf = (choice == k).astype(np.float32)
                w[k] = np.interp(np.arange(len(y)), np.arange(n_t) * hop, wf)
            w /= np.maximum(w.sum(axis=0), 1e-6)
            stitched = (w * np.stack(outs)).sum(axis=0)
            res["block pick"].append(_pesq(spec, y, stitched))
            refined = refine_waveform(stitched, lin, spec, n_iter=20, compression="identity")
            res["block pick + wave:20"].append(_pesq(spec, y, refined))
            control = refine_waveform(outs[0], lin, spec, n_iter=20, compression="identity")
            res["first cell + wave:20"].append(_pesq(spec, y, control))
            print(f"{cid[-36:]:36s} " + " ".join(f"{res[k][-1]:.2f}" for k in names),
                  f"switches {int(np.sum(np.diff(choice) != 0))}", flush=True)
    for k in names:
        print(f"MEAN {k:60s} n={len(res[k]):3d} PESQ {np.mean(res[k]):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
