"""``melbench bench local_phase``: local and non-iterative phase retrieval, side by side.

One run on the bundled speech (``cmu_arctic_a0007``) and music (``vibe_ace_00-08s``),
each at ``speech16k`` and ``tts22k`` (Hann window) and at ``speech16k`` with a
``sqrt_hann`` window (the reference LWS package's own window), from the true magnitude:

* seconds (minimum over repetitions; the methods are timed in turn within each
  repetition, ratios are medians of within-repetition ratios) and spectral convergence
  (STFT of the synthesised signal against the true magnitude, as the ``sc`` metric) of
  ``lws`` (speech and music presets), ``pghi``, ``spsi``, ``rtisi_la``, ``fgla`` with 100
  iterations (seeded random start), ``pghi`` then ``fgla`` (100 iterations, warm-started
  from PGHI's output), and the reference package through the ``lws_ref`` plugin where it
  is installed: with the spec's own window (faithful translation) and, on Hann specs, with
  the package's own window (how it is usually called);
* the targets: melbench's ``lws`` within 1.5x of ``lws_ref``'s time and at most 0.5 dB
  worse on the sqrt-Hann spec, better than the reference on Hann specs; ``pghi`` a
  fraction of the time of 100 ``fgla`` iterations; ``pghi`` then ``fgla`` better than
  ``fgla`` alone.

Writes ``results/bench_local_phase.md`` (``--out``): a summary of the headline
first, then the full tables. The documentation site includes that file; nothing
rewrites the README.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import registry
from ..datasets.bundled import Bundled
from ..errors import MelbenchError
from ..metrics.spectral import spectral_convergence_db
from ..spec import FeatureSpec, get_spec

CLIPS = (("speech", "cmu_arctic_a0007"), ("music", "vibe_ace_00-08s"))
SUMMARY_HEADING = "## Summary"


def _specs() -> list[tuple[str, FeatureSpec]]:
    return [
        ("speech16k", get_spec("speech16k")),
        ("tts22k", get_spec("tts22k")),
        ("speech16k+sqrt_hann", get_spec("speech16k", window="sqrt_hann",
                                         name="speech16k-sqrthann")),
    ]


def _load(clip_id: str, spec: FeatureSpec) -> np.ndarray:
    clip = next(Bundled(ids=[clip_id]).clips(spec))
    if clip.error:
        raise MelbenchError(f"bundled clip {clip_id}: {clip.error}")
    return np.asarray(clip.audio, dtype=np.float32)


def sc_db(spec: FeatureSpec, x: np.ndarray, magnitude: np.ndarray, length: int) -> float:
    """SC (dB) of the STFT of ``istft(x)`` (clip length) against ``magnitude``."""
    y = spec.istft(x, length=length)
    return spectral_convergence_db(magnitude, np.abs(spec.stft(y)))


def _has_ref() -> bool:
    try:
        cls = registry.get("phase", "lws_ref")
        from melbench_lws_ref.plugin import lws_available  # noqa: PLC0415
    except (MelbenchError, ImportError):
        return False
    return cls is not None and lws_available()


def methods(spec: FeatureSpec, with_ref: bool) -> dict[str, Callable]:
    """``label -> fn(magnitude) -> complex STFT`` for one spec."""
    mk = registry.create
    lws_s = mk("phase", "lws", {"mode": "speech"})
    lws_m = mk("phase", "lws", {"mode": "music"})
    pghi = mk("phase", "pghi")
    spsi = mk("phase", "spsi")
    rtisi = mk("phase", "rtisi_la")
    fgla = mk("phase", "fgla", {"n_iter": 100})
    out: dict[str, Callable] = {
        "lws (speech)": lambda m: lws_s(m, spec, rng=0),
        "lws (music)": lambda m: lws_m(m, spec, rng=0),
        "pghi": lambda m: pghi(m, spec, rng=0),
        "spsi": lambda m: spsi(m, spec, rng=0),
        "rtisi_la": lambda m: rtisi(m, spec, rng=0),
        "fgla 100": lambda m: fgla(m, spec, rng=0),
        "pghi > fgla 100": lambda m: fgla(m, spec, init=pghi(m, spec, rng=0), rng=0),
    }
    if with_ref:
        ref_s = mk("phase", "lws_ref", {"mode": "speech", "window": "spec"})
        ref_m = mk("phase", "lws_ref", {"mode": "music", "window": "spec"})
        out["lws_ref (speech)"] = lambda m: ref_s(m, spec, rng=0)
        out["lws_ref (music)"] = lambda m: ref_m(m, spec, rng=0)
        if spec.window != "sqrt_hann":
            own = mk("phase", "lws_ref", {"mode": "speech", "window": "lws"})
            out["lws_ref (speech, own window)"] = lambda m: own(m, spec, rng=0)
    return out


def run_cell(y: np.ndarray, spec: FeatureSpec, reps: int, with_ref: bool):
    """Time and score every method on one clip and spec; returns rows and per-rep times."""
    mag = np.abs(spec.stft(y))
    fns = methods(spec, with_ref)
    warm = mag[:, : min(mag.shape[1], 24)]
    for fn in fns.values():  # compile / warm caches outside the timings
        fn(warm)
    times: dict[str, list[float]] = {k: [] for k in fns}
    scs: dict[str, float] = {}
    for rep in range(reps):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            x = fn(mag)
            times[label].append(time.perf_counter() - t0)
            if rep == 0:
                scs[label] = sc_db(spec, x, mag, y.shape[-1])
    return mag.shape[1], scs, times


def _ratio(times, a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def _f(x: float, nd: int = 2) -> str:
    return f"{x:.{nd}f}"


def render(cells, with_ref: bool, args, env: str) -> tuple[str, str]:
    """Markdown of the results: the summary (headline) first, then the full tables."""
    lines = [
        "# Local and non-iterative phase retrieval",
        "",
        f"`melbench bench local_phase --repeat {args.repeat}` ({env}). True magnitude of the "
        "bundled clips; SC = 20 log10 ||STFT(istft(X))| - |S|| / ||S|| (dB, lower is better); "
        f"seconds = minimum of {args.repeat} repetitions, methods timed in turn in each "
        "repetition; ratios = median of within-repetition ratios.",
        "",
    ]
    if not with_ref:
        lines += ["The reference `lws` package (plugin `lws_ref`) is not installed: its rows "
                  "are missing (see plugins/melbench-lws-ref/README.md).", ""]
    for kind, clip_id, spec_label, frames, scs, times in cells:
        lines += [f"## {kind}: `{clip_id}` at {spec_label} ({frames} frames)", "",
                  "| method | seconds | SC (dB) |", "|---|---:|---:|"]
        for label in scs:
            lines.append(f"| {label} | {_f(min(times[label]), 3)} | {_f(scs[label])} |")
        lines.append("")
        notes = []
        if "lws_ref (speech)" in times:
            for mode in ("speech", "music"):
                a, b = f"lws ({mode})", f"lws_ref ({mode})"
                notes.append(f"lws/lws_ref ({mode}): time x{_f(_ratio(times, a, b))}, "
                             f"SC {scs[a] - scs[b]:+.2f} dB")
            if "lws_ref (speech, own window)" in scs:
                notes.append("lws (speech) vs lws_ref with its own window: SC "
                             f"{scs['lws (speech)'] - scs['lws_ref (speech, own window)']:+.2f} dB")
        notes.append(f"pghi / fgla 100 time: x{_f(_ratio(times, 'pghi', 'fgla 100'), 3)}")
        notes.append(f"pghi > fgla 100 vs fgla 100: SC {scs['pghi > fgla 100'] - scs['fgla 100']:+.2f} dB")
        lines += [f"- {n}" for n in notes] + [""]
    # headline
    by = {(c[0], c[2]): c for c in cells}
    head = [SUMMARY_HEADING, ""]
    head.append(
        "melbench's own `lws` (numba; consistency weights from the spec's actual windows), "
        "`pghi` (heap integration, phase converted to melbench's frame-start convention), "
        "`spsi` and `rtisi_la`, measured by `melbench bench local_phase` on the bundled clips "
        "from the true magnitude (SC in dB, lower is better; seconds on a shared 2-core machine). "
        "`lws_ref` is the reference package lws 1.2.8 (plugin `plugins/melbench-lws-ref`) "
        "given the spec's window; \"own window\" is lws called as usual, with its default "
        "sqrt-Hann window:"
    )
    head += ["", "| clip, spec | lws speech | lws music | pghi | spsi | rtisi_la | fgla 100 "
             "| pghi > fgla 100 |" + (" lws_ref speech |" if with_ref else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if with_ref else "")]
    order = ["lws (speech)", "lws (music)", "pghi", "spsi", "rtisi_la", "fgla 100",
             "pghi > fgla 100"] + (["lws_ref (speech)"] if with_ref else [])
    for kind, _, spec_label, _, scs, times in cells:
        row = [f"{kind}, {spec_label}"] + [
            f"{_f(scs[k], 1)} dB / {_f(min(times[k]), 2)} s" for k in order]
        head.append("| " + " | ".join(row) + " |")
    head.append("")
    bullets = []
    if with_ref:
        for kind in ("speech", "music"):
            c = by.get((kind, "speech16k+sqrt_hann"))
            if c:
                scs, times = c[4], c[5]
                bullets.append(
                    f"{kind}, sqrt-Hann (lws's own window): melbench `lws` takes "
                    f"x{_f(_ratio(times, 'lws (speech)', 'lws_ref (speech)'))} the reference's "
                    f"time, SC {scs['lws (speech)'] - scs['lws_ref (speech)']:+.2f} dB relative "
                    f"to it (music preset: x{_f(_ratio(times, 'lws (music)', 'lws_ref (music)'))}"
                    f", {scs['lws (music)'] - scs['lws_ref (music)']:+.2f} dB; negative = "
                    "melbench better)")
            c = by.get((kind, "speech16k"))
            if c and "lws_ref (speech, own window)" in c[4]:
                scs = c[4]
                bullets.append(
                    f"{kind}, Hann (speech16k): `lws` {_f(scs['lws (speech)'], 1)} dB vs the "
                    f"reference called with its own window "
                    f"{_f(scs['lws_ref (speech, own window)'], 1)} dB; given the spec's window "
                    f"through `lws_ref` it reaches {_f(scs['lws_ref (speech)'], 1)} dB")
    for kind, _, spec_label, _, scs, times in cells:
        if spec_label == "speech16k+sqrt_hann":
            continue
        bullets.append(
            f"{kind}, {spec_label}: pghi takes x{_f(_ratio(times, 'pghi', 'fgla 100'), 3)} "
            f"the time of 100 fgla iterations; pghi then fgla 100 reaches "
            f"{_f(scs['pghi > fgla 100'], 1)} dB vs {_f(scs['fgla 100'], 1)} dB for fgla 100 "
            "from random phase")
    head += [f"- {b}" for b in bullets]
    head += ["", "Full tables below. Chains such as "
             "`phase=chain 'phase.steps=\"pghi>fgla:100\"'` run the warm-started variant in "
             "a sweep.", ""]
    return "\n".join([*lines[:4], *head, *lines[4:]]), "\n".join(head)




def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the summary; write the Markdown."""
    ap = argparse.ArgumentParser(prog="melbench bench local_phase", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timing repetitions (default 3)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="truncate each clip to this many seconds (quick runs)")
    ap.add_argument("--out", default="results/bench_local_phase.md", help="Markdown output")
    ap.add_argument("--no-ref", action="store_true", help="skip the lws_ref plugin")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    with_ref = (not args.no_ref) and _has_ref()
    env = (f"Python {platform.python_version()}, numpy {np.__version__}, "
           f"{platform.machine()}")
    cells = []
    for spec_label, spec in _specs():
        for kind, clip_id in CLIPS:
            y = _load(clip_id, spec)
            if args.seconds:
                y = y[: int(args.seconds * spec.sample_rate)]
            frames, scs, times = run_cell(y, spec, args.repeat, with_ref)
            cells.append((kind, clip_id, spec_label, frames, scs, times))
            print(f"{kind} {clip_id} {spec_label}: " + ", ".join(
                f"{k} {scs[k]:.2f} dB {min(times[k]):.3f} s" for k in scs), flush=True)
    full, section = render(cells, with_ref, args, env)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(full, encoding="utf-8")
    print()
    print(section)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
