"""``melbench bench throughput``: ``melbench invert DIR --jobs N`` on a folder of mels, N = 1 vs N.

Makes ``--n-mels`` (default 100) mels of different lengths (``--min-s`` to
``--max-s`` seconds, default 2-10 s like LJSpeech's utterances, seeded) from the
bundled recordings with spec ``tts22k`` (a TTS test set's shape), then runs the
real command line, end to end, as a subprocess per setting: ``melbench invert DIR -o OUT --jobs 1`` and
``--jobs N`` (default: all cores), alternating, ``--repeat`` times (minimum
kept). Everything a user waits for is timed: interpreter start, imports, worker
start-up and numba's kernel loading, the inversions (default cell ``nnls`` +
``fgla``, 100 iterations) and the wav writes. It reports files per second, the
ratio ``throughput(N) / throughput(1)``, the peak resident memory per worker
(from ``getrusage``; with N > 1 as printed by ``melbench invert``), whether the
wavs of both runs are bit-identical, and the load average before and after (the
machine may be shared: a busy machine depresses the ratio). Writes
``results/bench_throughput.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SPEC = "tts22k"


def make_mels(folder: Path, n: int, min_s: float, max_s: float, seed: int = 0) -> list[float]:
    """Write ``n`` mels ``(n_mels, frames)`` of seeded random lengths; return their durations."""
    from ..datasets.bundled import Bundled
    from ..spec import get_spec

    spec = get_spec(SPEC)
    audio = np.concatenate([c.audio for c in Bundled().clips(spec) if c.audio is not None])
    rng = np.random.default_rng(seed)
    durations = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        d = float(rng.uniform(min_s, max_s))
        k = int(d * spec.sample_rate)
        start = int(rng.integers(0, max(1, audio.size - k)))
        y = np.resize(audio[start:], k).astype(np.float32)
        np.save(folder / f"utt{i:04d}.npy", spec.mel(y).astype(np.float32))
        durations.append(d)
    return durations


def run_invert(src: Path, out: Path, jobs: int) -> dict[str, Any]:
    """Time ``melbench invert src -o out --jobs N`` in a fresh interpreter."""
    cmd = [sys.executable, "-m", "melbench.cli", "invert", str(src), "-o", str(out), "--spec", SPEC,
           "--jobs", str(jobs), "-q"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = ru0.ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    m = re.search(r"(\d+) worker processes, peak memory per worker (\d+) MiB", p.stderr)
    if m:
        workers, rss = int(m.group(1)), float(m.group(2))
    else:  # one process: the largest child's peak (this process's children so far)
        workers, rss = 1, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        if rss * 1024.0 <= before:
            rss = float("nan")  # an earlier child was larger: unknown for this one
    return {"jobs": jobs, "workers": workers, "wall": wall, "cpu": cpu, "peak_rss_mib": rss}


def _autogroup_note() -> str:
    try:
        on = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not on:
        return ""
    return (" The kernel's autogroup scheduling is on: under load, all processes of one command "
            "(one session) share that session's CPU share, so extra workers add no CPU time "
            "until the machine is otherwise idle; the CPU seconds below do not depend on that.")


def _same_wavs(a: Path, b: Path) -> bool:
    import soundfile as sf

    fa = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    fb = sorted(p.relative_to(b) for p in b.rglob("*.wav"))
    if fa != fb:
        return False
    return all(np.array_equal(sf.read(str(a / f))[0], sf.read(str(b / f))[0]) for f in fa)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from ..workers import default_jobs

    p = argparse.ArgumentParser(prog="melbench bench throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-mels", type=int, default=100)
    # LJSpeech's utterances (a common TTS test set) last 1-10 s, 6.6 s on average
    p.add_argument("--min-s", type=float, default=2.0, help="shortest mel in seconds (default 2)")
    p.add_argument("--max-s", type=float, default=10.0, help="longest mel in seconds (default 10)")
    p.add_argument("--jobs", type=int, default=0, help="the parallel setting (default: all cores)")
    p.add_argument("--repeat", type=int, default=1, help="alternating repetitions, min kept")
    p.add_argument("--out", type=Path, default=Path("results/bench_throughput.md"))
    args = p.parse_args(argv)
    jobs = args.jobs or default_jobs()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="melbench-throughput-") as tmp:
        src = Path(tmp) / "mels"
        durations = make_mels(src, args.n_mels, args.min_s, args.max_s)
        runs: dict[int, list[dict[str, Any]]] = {1: [], jobs: []}
        for r in range(args.repeat):
            for j in (1, jobs):
                res = run_invert(src, Path(tmp) / f"out{j}_{r}", j)
                runs[j].append(res)
                print(f"--jobs {j}: {res['wall']:.1f} s, {args.n_mels / res['wall']:.2f} files/s, "
                      f"CPU {res['cpu']:.1f} s, peak RSS per worker {res['peak_rss_mib']:.0f} MiB",
                      flush=True)
        identical = _same_wavs(Path(tmp) / "out1_0", Path(tmp) / f"out{jobs}_0")
    load_after = os.getloadavg()
    best = {j: dict(min(rs, key=lambda x: x["wall"])) for j, rs in runs.items()}
    for j, rs in runs.items():  # peak memory: the largest seen in any run of the setting
        peaks = [r["peak_rss_mib"] for r in rs if r["peak_rss_mib"] == r["peak_rss_mib"]]
        best[j]["peak_rss_mib"] = max(peaks) if peaks else float("nan")
    ratio = best[1]["wall"] / best[jobs]["wall"]
    print(f"throughput ratio --jobs {jobs} / --jobs 1: {ratio:.2f}x; wavs identical: {identical}")
    audio_s = float(np.sum(durations))
    lines = [
        "# Throughput of `melbench invert DIR --jobs N`",
        "",
        f"`melbench bench throughput --n-mels {args.n_mels} --min-s {args.min_s} --max-s {args.max_s}"
        f" --jobs {jobs} --repeat {args.repeat}`: {args.n_mels} mels (spec {SPEC}, "
        f"{args.min_s}-{args.max_s} s each, {audio_s:.0f} s of audio in all, from the bundled "
        "recordings), default cell nnls + fgla (100 iterations). Each setting is the real command "
        "in a fresh interpreter, end to end (start-up, imports, worker start, numba kernel loading, "
        "inversion, wav writing); settings alternate; minimum of the repetitions.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other jobs). Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)}. A load above the core count means other "
        "processes competed for the cores and the ratio is depressed." + _autogroup_note(),
        "",
        "| --jobs | worker processes | wall (s) | files / s | audio s / wall s | CPU s (all processes) "
        "| peak RSS per worker (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for j in (1, jobs):
        b = best[j]
        lines.append(f"| {j} | {b['workers']} | {b['wall']:.1f} | {args.n_mels / b['wall']:.2f} | "
                     f"{audio_s / b['wall']:.1f} | {b['cpu']:.1f} | {b['peak_rss_mib']:.0f} |")
    lines += [
        "",
        f"**Throughput ratio (--jobs {jobs} / --jobs 1): {ratio:.2f}x** (target on 2 cores: >= 1.8x).",
        f"Wavs of the two settings bit-identical: {identical}. CPU seconds (user + system of the "
        f"command and its workers) are load-independent: --jobs {jobs} spends "
        f"{best[jobs]['cpu'] / best[1]['cpu']:.2f}x the CPU time of --jobs 1 (worker start-up and "
        f"duplicated set-up); on {jobs} otherwise idle cores the wall-time ratio is bounded by "
        f"{jobs * best[1]['cpu'] / best[jobs]['cpu']:.2f}x.",
        "",
        "All runs: " + "; ".join(f"--jobs {r['jobs']} {r['wall']:.1f} s" for j in runs for r in runs[j]),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
