"""Per-clip PESQ-wb and SC of cells on the evaluation suite at one spec, paired against a base cell.

Run from the repository root (needs ``make eval-data``)::

    .venv/bin/python results/narrowband8k_suite.py SPEC OUT.csv BASE CELL [CELL ...]

Every suite clip (speech, music and other; at the spec's rate, as
``EvalSuite().clips(spec)`` gives them) goes through ``nnls+fgla:100``, ``BASE`` and each
``CELL`` exactly as ``melbench bench pipelines`` runs cells (one thread). Rows (clip, kind,
cell, PESQ-wb for speech, SC against the true magnitude in dB) are written to ``OUT.csv``
atomically after every clip, and a rerun resumes from it. Printed per kind and cell: the
means, the mean paired difference against ``BASE``, the clips where the cell is worse than
``BASE`` by more than 0.05 PESQ / 0.3 dB SC, and the clips over issue 16's robustness
bounds against ``nnls+fgla:100`` (PESQ lower by more than 0.05 on speech, SC higher by more
than 0.3 dB). Quoted in ``results/narrowband8k.md``.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, _pesq
from melbench.datasets.eval_suite import EvalSuite
from melbench.measures import spectral_convergence_db
from melbench.results import atomic_write_bytes
from melbench.spec import get_spec

NNLS = "nnls+fgla:100"
FIELDS = ("clip", "kind", "cell", "pesq", "sc_db")


def _write(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def main(argv: list[str]) -> int:
    """Run the cells on the suite, write the CSV, print the paired summary."""
    spec, out, base, cells = get_spec(argv[0]), Path(argv[1]), argv[2], argv[3:]
    every = list(dict.fromkeys([NNLS, base, *cells]))
    rows: list[dict] = []
    if out.exists():
        with out.open() as f:
            rows = [r for r in csv.DictReader(f) if r.get("cell") in every]
    done = {(r["clip"], r["cell"]) for r in rows}
    with threadpool_limits(1):
        for clip in EvalSuite().clips(spec):
            if clip.error:
                continue
            y = np.asarray(clip.audio, np.float32)
            kind = clip.meta.get("kind", "")
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            for cell in every:
                if (clip.id, cell) in done:
                    continue
                out_audio = np.asarray(_cell_call(cell, spec, len(y), mag, 0)(mel), np.float32)[: len(y)]
                sc = spectral_convergence_db(mag, spec.magnitude(out_audio))
                p = _pesq(spec, y, out_audio) if kind == "speech" else float("nan")
                rows.append({"clip": clip.id, "kind": kind, "cell": cell, "pesq": p, "sc_db": sc})
            _write(out, rows)
    table: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for r in rows:
        table.setdefault((r["kind"], r["cell"]), {})[r["clip"]] = (float(r["pesq"]), float(r["sc_db"]))
    for kind in ("speech", "music", "other"):
        for cell in every:
            cur = table.get((kind, cell), {})
            ref, nn = table.get((kind, base), {}), table.get((kind, NNLS), {})
            ids = sorted(set(cur) & set(ref) & set(nn))
            if not ids:
                continue
            a, b, c = (np.array([d[i] for i in ids]) for d in (cur, ref, nn))
            is_speech = kind == "speech"
            worse = np.sum(b[:, 0] - a[:, 0] > 0.05) if is_speech else np.sum(a[:, 1] - b[:, 1] > 0.3)
            over = np.sum((a[:, 1] - c[:, 1] > 0.3) | (is_speech & (c[:, 0] - a[:, 0] > 0.05)))
            print(f"{kind:6s} {cell:40s} n={len(ids):3d} PESQ {np.nanmean(a[:, 0]):6.3f} "
                  f"(vs base {np.nanmean(a[:, 0] - b[:, 0]):+.3f}) SC {a[:, 1].mean():7.2f} "
                  f"(vs base {np.mean(a[:, 1] - b[:, 1]):+.2f}) worse than base {worse:3d} "
                  f"over the nnls bounds {over:3d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
