"""``melbench bench metrics``: seconds per clip of every metric, and of the evaluation suite's set.

One run on the bundled clips (six: speech at 8 and 16 kHz, music at 44.1 kHz),
analysed at one spec (``tts22k`` by default): each clip is inverted once by a
real cell (pinv + fgla, 32 iterations) and its pipeline context (the one
:func:`melbench.pipeline.run_clip` hands metrics) is scored by every available
metric in turn, ``--reps`` times; the minimum per clip is kept. Reported per
metric, measured side by side:

* the first call in this process (model loading, numba compilation if its disk
  cache is cold: about 30 s for ViSQOL on a fresh install);
* seconds per clip (mean over clips) and per second of audio;
* the ratio to the cell's own inversion time on the same clips (pinv + fgla-32,
  measured in the same run), and to PESQ, the cost of the existing perceptual metric.

The suite total is the sum over the metrics of the evaluation suite
(:data:`SUITE`), per clip and per 100 clips on one core (the metric pool divides
it by ``metric_jobs``). Writes ``results/bench_metrics.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from pathlib import Path

from .. import registry
from ..datasets.bundled import Bundled
from ..errors import MelbenchError
from ..metrics.perceptual import Pesq
from ..pipeline import run_clip, score_metric
from ..provenance import package_version
from ..results import atomic_write_bytes
from ..spec import get_spec

#: Metrics of the evaluation suite (issue 14), whose per-clip costs add up to its total.
SUITE = ("sc", "lsd", "mcd", "pesq", "stoi", "estoi", "visqol", "mcd_world", "mrstft", "dnsmos")
#: Packages whose versions the table records.
PACKAGES = ("numpy", "scipy", "pesq", "pystoi", "visqol-python", "ai-edge-litert", "speechmos",
            "onnxruntime", "pyworld-prebuilt", "pysptk", "librosa", "numba")


def _contexts(spec_name: str, clip_ids: list[str] | None) -> tuple[list[tuple[str, str, dict]], list[float]]:
    """(clip id, kind, context) per bundled clip, and the inversion seconds of each."""
    spec = get_spec(spec_name)
    inv = registry.create("inverter", "pinv")
    ph = registry.create("phase", "fgla", {"n_iter": 32})
    out, inv_times = [], []
    for clip in Bundled(ids=clip_ids).clips(spec) if clip_ids else Bundled().clips(spec):
        if clip.error:
            raise MelbenchError(f"bundled clip {clip.id}: {clip.error}")
        res = run_clip(clip, spec, inv, ph, [Pesq()], defer=True)  # keeps the context for PESQ
        if res.context is None:
            raise MelbenchError(f"bundled clip {clip.id}: {res.row['error'] or res.row['notes']}")
        t = res.context["times"]
        inv_times.append(t["invert"] + t["phase"] + t["synth"])
        out.append((clip.id, str(clip.meta.get("kind", "")), res.context))
    return out, inv_times


def time_metrics(names: list[str], contexts: list[tuple[str, str, dict]], reps: int) -> dict[str, dict]:
    """Seconds of each metric per clip (minimum over ``reps``), after a separately timed first call.

    The first call is made on the first speech clip (every metric applies to speech), so
    it includes the model loading and compilation that a clip the metric declines skips.
    """
    rows: dict[str, dict] = {}
    warm = next((ctx for _, kind, ctx in contexts if kind == "speech"), contexts[0][2])
    for name in names:
        m = registry.create("metric", name)
        t0 = time.perf_counter()
        score_metric(m, warm)
        first = time.perf_counter() - t0
        per_clip, notes = [], set()
        for _, _, ctx in contexts:
            best = math.inf
            for _ in range(reps):
                t0 = time.perf_counter()
                _, n = score_metric(m, ctx)
                best = min(best, time.perf_counter() - t0)
            per_clip.append(best)
            notes.update(n)
        rows[name] = {"first": first, "per_clip": per_clip, "notes": sorted(notes)}
        print(f"  {name:12s} first call {first:7.2f} s   mean {statistics.fmean(per_clip):7.3f} s/clip",
              flush=True)
    return rows


def render(rows: dict[str, dict], contexts: list, inv_times: list[float], spec_name: str,
           reps: int, seconds_of_audio: float, load: tuple[float, float] = (math.nan, math.nan)) -> str:
    """The Markdown table and notes."""
    n = len(contexts)
    kinds = sorted({kind for _, kind, _ in contexts})
    inv = statistics.fmean(inv_times)
    pesq = statistics.fmean(rows["pesq"]["per_clip"]) if "pesq" in rows else math.nan
    lines = [
        "# Metric costs (`melbench bench metrics`)",
        "",
        f"{n} bundled clips ({seconds_of_audio:.1f} s of audio: "
        + ", ".join(f"{cid} ({kind})" for cid, kind, _ in contexts)
        + f") at spec `{spec_name}`, each inverted once by pinv + fgla (32 iterations); every "
        f"metric scores the same contexts, minimum of {reps} repetitions per clip, one process "
        "(one core for the metric). `x inversion`: metric seconds over the cell's own "
        f"inversion seconds on the same clips ({inv:.3f} s per clip, same run); `x pesq`: over "
        "PESQ's seconds. First call: the first call in this process, on the first speech clip "
        "(model loading; numba compilation when its disk cache is cold).",
        "",
        "| metric | suite | first call (s) | s per clip | " + " | ".join(
            f"s per {k} clip" for k in kinds) + " | s per audio s | x inversion | x pesq |",
        "|---|---|---:|---:|" + "---:|" * len(kinds) + "---:|---:|---:|",
    ]
    total = 0.0
    for name, r in rows.items():
        mean = statistics.fmean(r["per_clip"])
        in_suite = name in SUITE
        total += mean if in_suite else 0.0
        clip_kinds = [k for _, k, _ in contexts]
        by_kind = " | ".join(
            f"{statistics.fmean(t for t, k in zip(r['per_clip'], clip_kinds, strict=True) if k == kind):.3f}"
            for kind in kinds)
        lines.append(f"| {name} | {'yes' if in_suite else ''} | {r['first']:.2f} | {mean:.3f} | "
                     f"{by_kind} | {sum(r['per_clip']) / seconds_of_audio:.4f} | {mean / inv:.2f} | "
                     f"{mean / pesq:.2f} |")
    lines += [
        "",
        f"**Suite total** ({', '.join(s for s in SUITE if s in rows)}): {total:.2f} s per clip, "
        f"{100 * total / 60:.1f} min per 100 clips per cell on one core ({total / inv:.1f}x the "
        "inversion); the metric pool (`metric_jobs`) spreads it over worker processes.",
        "",
        "Reasons recorded while timing (a metric that does not apply to a clip is cheap there):",
        "",
    ]
    for r in rows.values():
        for note in r["notes"]:
            lines.append(f"- {note}")
    lines += ["", "Versions: " + "; ".join(f"{p} {package_version(p)}" for p in PACKAGES)
              + f"; python {platform.python_version()}, {platform.machine()}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time every metric on the bundled clips; print and write the table."""
    ap = argparse.ArgumentParser(prog="melbench bench metrics", description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default="tts22k", help="spec preset the clips are analysed at")
    ap.add_argument("--reps", type=int, default=2, help="repetitions per clip (minimum kept)")
    ap.add_argument("--metrics", default="all",
                    help="comma-separated metric names, or 'all' (every available metric)")
    ap.add_argument("--clips", default="", help="comma-separated bundled clip ids (default: all)")
    ap.add_argument("--out", default="results/bench_metrics.md", help="Markdown output file")
    args = ap.parse_args(argv)
    names = (registry.available("metric") if args.metrics == "all"
             else [n.strip() for n in args.metrics.split(",") if n.strip()])
    names = [n for n in names if n != "timing"]  # reads the stage times: nothing to measure
    clip_ids = [c.strip() for c in args.clips.split(",") if c.strip()] or None
    print(f"melbench bench metrics: spec {args.spec}, metrics {', '.join(names)}", flush=True)
    load0 = os.getloadavg()[0]
    contexts, inv_times = _contexts(args.spec, clip_ids)
    seconds = sum(ctx["duration"] for _, _, ctx in contexts)
    rows = time_metrics(names, contexts, max(1, args.reps))
    text = render(rows, contexts, inv_times, args.spec, max(1, args.reps), seconds,
                  (load0, os.getloadavg()[0]))
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode("utf-8"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
