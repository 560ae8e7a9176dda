"""``melbench bench inverters``: mel -> magnitude inverters side by side, with librosa.

For every bundled clip at specs ``speech16k`` and ``tts22k`` the mel is made
from the clip (as the spec says, compressed or not) and every inverter turns it
back into a linear magnitude. Per clip and inverter it prints:

* seconds of one call (validation and decompression included; after one
  untimed warm-up call, minimum over ``--repeat`` repetitions, the inverters
  timed in turn within a repetition; a method slower than 5 s runs once);
* the mel-domain objective ``||M s - m||^2`` in the domain the mel was made in
  (``s`` the output raised to ``spec.power``, ``m`` the decompressed mel), float64;
* the spectral convergence of the output against the clip's true magnitude, in dB
  (lower is better; no phase involved);
* with ``--pesq`` (default on), wide-band PESQ of the speech clips after the same
  phase retriever (``fgla``, 100 iterations, seed 0), at 16 kHz.

``librosa_nnls`` (the ``melbench-librosa`` plugin, librosa's ``mel_to_stft``) is
measured in the same run when installed (interleaved with the others), and the
speed ratio ``t(librosa_nnls) / t(nnls)`` of the per-clip minimum times is
reported, with the objective ratio. A summary gives the mean SC per (spec, kind) and checks
the ordering transpose < pinv < nnls < nnls_consistent.

Writes ``results/bench_inverters.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import registry
from ..datasets.bundled import Bundled
from ..errors import MelbenchError
from ..metrics.spectral import spectral_convergence_db
from ..spec import FeatureSpec, get_spec

INVERTERS = ("transpose", "pinv", "nnls", "nnls_consistent")
ORDERING = ("transpose", "pinv", "nnls", "nnls_consistent")
REFERENCE = "librosa_nnls"
SPECS = ("speech16k", "tts22k")


def mel_objective(spec: FeatureSpec, magnitude: np.ndarray, mel_linear: np.ndarray) -> float:
    """``||M s - m||^2`` in the mel's own domain (float64), ``s = magnitude ** power``."""
    s = np.asarray(magnitude, dtype=np.float64) ** spec.power
    r = spec.mel_basis(np.float64) @ s - np.asarray(mel_linear, dtype=np.float64)
    return float(np.sum(r * r))


def _available(names: list[str]) -> list[str]:
    found = registry.discover()["inverter"]
    return [n for n in names if n in found and found[n].available]


def _pesq_after_fgla(spec: FeatureSpec, magnitude: np.ndarray, reference: np.ndarray) -> float:
    from pesq import pesq

    from ..metrics.perceptual import resample_for_pesq

    phase = registry.create("phase", "fgla", {"n_iter": 100})
    x = phase(magnitude, spec, rng=0)
    y = spec.istft(x, length=reference.shape[-1])
    ref16 = resample_for_pesq(reference, spec.sample_rate, 16000)
    est16 = resample_for_pesq(y, spec.sample_rate, 16000)
    return float(pesq(16000, ref16, est16, "wb"))


def run(
    specs: list[str], inverters: list[str], *, repeat: int = 3, with_pesq: bool = True,
    clip_ids: list[str] | None = None, log=print,
) -> list[dict[str, Any]]:
    """Measure every (spec, clip, inverter); return one row per cell."""
    rows = []
    for spec_name in specs:
        spec = get_spec(spec_name)
        for clip in Bundled(ids=list(clip_ids or [])).clips(spec):
            if clip.error:
                log(f"skip {clip.id}: {clip.error}")
                continue
            kind = clip.meta.get("kind", "")
            true_mag = spec.magnitude(clip.audio)
            mel = spec.mel_from_magnitude(true_mag)
            mel_lin = spec.decompress(mel)
            plugins = {n: registry.create("inverter", n) for n in inverters}
            for inv in plugins.values():  # warm-up (caches, compiled kernels): not timed
                inv(mel[..., : min(8, mel.shape[-1])], spec)
            times: dict[str, list[float]] = {n: [] for n in inverters}
            outs: dict[str, np.ndarray] = {}
            for r in range(repeat):
                for n, inv in plugins.items():
                    if r > 0 and times[n][0] > 5.0:
                        continue  # one run of a slow method is enough
                    t0 = time.perf_counter()
                    outs[n] = inv(mel, spec)
                    times[n].append(time.perf_counter() - t0)
            ratio = math.nan
            if "nnls" in times and REFERENCE in times:
                ratio = min(times[REFERENCE]) / min(times["nnls"])
            for n in inverters:
                row = {
                    "spec": spec_name, "clip": clip.id, "kind": kind, "inverter": n,
                    "seconds": min(times[n]),
                    "objective": mel_objective(spec, outs[n], mel_lin),
                    "sc_true_db": spectral_convergence_db(true_mag, outs[n]),
                    "pesq_wb": math.nan, "speedup_vs_librosa": math.nan,
                }
                if n == "nnls":
                    row["speedup_vs_librosa"] = ratio
                if with_pesq and kind == "speech":
                    try:
                        row["pesq_wb"] = _pesq_after_fgla(spec, outs[n], clip.audio)
                    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                        log(f"  pesq {spec_name}/{clip.id}/{n}: {type(exc).__name__}: {exc}")
                rows.append(row)
                log(
                    f"{spec_name:9s} {clip.id:32s} {n:16s} {row['seconds'] * 1e3:9.1f} ms  "
                    f"obj {row['objective']:9.3g}  SC {row['sc_true_db']:7.2f} dB"
                    + (f"  PESQ {row['pesq_wb']:.2f}" if not math.isnan(row["pesq_wb"]) else "")
                    + (f"  x{row['speedup_vs_librosa']:.1f} vs librosa"
                       if not math.isnan(row["speedup_vs_librosa"]) else "")
                )
    return rows


def _fmt(v: float, spec: str = ".2f") -> str:
    return "" if isinstance(v, float) and math.isnan(v) else format(v, spec)


def summarize(rows: list[dict[str, Any]], inverters: list[str]) -> tuple[list[str], list[str]]:
    """Markdown summary lines and headline sentences (speed-up, ordering)."""
    lines = [
        "| spec | kind | inverter | clips | mean SC dB | mean objective | total s | "
        "mean PESQ-wb (fgla) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    heads = []
    groups = sorted({(r["spec"], r["kind"]) for r in rows})
    for spec, kind in groups:
        means = {}
        for n in inverters:
            sel = [r for r in rows if r["spec"] == spec and r["kind"] == kind and r["inverter"] == n]
            if not sel:
                continue
            sc = float(np.mean([r["sc_true_db"] for r in sel]))
            pq = [r["pesq_wb"] for r in sel if not math.isnan(r["pesq_wb"])]
            means[n] = sc
            lines.append(
                f"| {spec} | {kind} | {n} | {len(sel)} | {sc:.2f} | "
                f"{np.mean([r['objective'] for r in sel]):.3g} | "
                f"{sum(r['seconds'] for r in sel):.3f} | "
                f"{_fmt(float(np.mean(pq))) if pq else ''} |"
            )
        order = [n for n in ORDERING if n in means]
        ok = all(means[a] > means[b] for a, b in zip(order, order[1:], strict=False))
        heads.append(
            f"{spec}/{kind}: ordering {' > '.join(f'{n} {means[n]:.2f}' for n in order)} dB "
            f"({'holds' if ok else 'does NOT hold'})"
        )
        if "nnls" in means and "nnls_consistent" in means:
            heads.append(
                f"{spec}/{kind}: nnls_consistent - nnls = "
                f"{means['nnls_consistent'] - means['nnls']:+.2f} dB SC"
            )
    nn = [r for r in rows if r["inverter"] == "nnls"]
    lib = {(r["spec"], r["clip"]): r for r in rows if r["inverter"] == REFERENCE}
    if nn and lib:
        speed = [r["speedup_vs_librosa"] for r in nn if not math.isnan(r["speedup_vs_librosa"])]
        obj = [
            lib[(r["spec"], r["clip"])]["objective"] / max(r["objective"], 1e-300)
            for r in nn if (r["spec"], r["clip"]) in lib
        ]
        heads.append(
            f"nnls vs librosa_nnls (same run, per clip): speed-up median {np.median(speed):.1f}x "
            f"(min {min(speed):.1f}x, max {max(speed):.1f}x); objective lower by median "
            f"{np.median(obj):.3g}x (min {min(obj):.3g}x)"
        )
    return lines, heads


def to_markdown(rows: list[dict[str, Any]], inverters: list[str], argv: list[str]) -> str:
    """The results file: set-up, headline, summary and the per-clip table."""
    summary, heads = summarize(rows, inverters)
    out = [
        "# Mel -> magnitude inverters (`melbench bench inverters`)",
        "",
        f"Command: `melbench bench inverters {' '.join(argv)}`. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared 2-core machine, so "
        "seconds are noisy (minimum over interleaved repetitions, after a warm-up call); the "
        "librosa speed ratio compares per-clip minimum times measured in the same run.",
        "",
        "SC = spectral convergence of the inverter's output against the clip's true STFT "
        "magnitude (dB, lower is better, no phase involved). Objective = `||M s - m||^2` in the "
        "mel's own domain (float64). PESQ-wb: after `fgla` (100 iterations, seed 0), speech only.",
        "",
        "## Headline",
        "",
        *[f"- {h}" for h in heads],
        "",
        "## Mean per spec and kind",
        "",
        *summary,
        "",
        "## Per clip",
        "",
        "| spec | clip | kind | inverter | seconds | objective | SC dB | PESQ-wb | x librosa |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['spec']} | {r['clip']} | {r['kind']} | {r['inverter']} | {r['seconds']:.4f} | "
            f"{r['objective']:.3g} | {r['sc_true_db']:.2f} | {_fmt(r['pesq_wb'])} | "
            f"{_fmt(r['speedup_vs_librosa'], '.1f')} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write ``results/bench_inverters.md``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="melbench bench inverters", description=__doc__.split("\n")[0])
    p.add_argument("--specs", nargs="+", default=list(SPECS), help="spec presets")
    p.add_argument("--inverters", nargs="+", default=list(INVERTERS),
                   help="inverters (librosa_nnls is added when installed)")
    p.add_argument("--clips", nargs="*", default=[], help="bundled clip ids (default: all)")
    p.add_argument("--repeat", type=int, default=3, help="timing repetitions")
    p.add_argument("--no-pesq", action="store_true", help="skip PESQ after fgla")
    p.add_argument("--no-librosa", action="store_true", help="leave out librosa_nnls")
    p.add_argument("--out", default="results/bench_inverters.md", help="Markdown output")
    args = p.parse_args(argv)
    try:
        wanted = list(dict.fromkeys(list(args.inverters) + ([] if args.no_librosa else [REFERENCE])))
        inverters = _available(wanted)
        missing = sorted(set(args.inverters) - set(inverters))
        if missing:
            print(f"melbench bench inverters: not installed: {missing}", file=sys.stderr)
            return 2
        if REFERENCE not in inverters and not args.no_librosa:
            print("note: librosa_nnls not installed (pip install -e plugins/melbench-librosa); "
                  "no librosa comparison", file=sys.stderr)
        rows = run(args.specs, inverters, repeat=max(1, args.repeat),
                   with_pesq=not args.no_pesq, clip_ids=args.clips)
    except MelbenchError as exc:
        print(f"melbench bench inverters: {exc}", file=sys.stderr)
        return 1
    text = to_markdown(rows, inverters, argv)
    _, heads = summarize(rows, inverters)
    print("\n" + "\n".join(heads))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
