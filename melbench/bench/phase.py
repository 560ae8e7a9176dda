"""``melbench bench phase``: projection phase retrieval against the FFT floor and librosa.

One run, measured side by side on the bundled speech (``cmu_arctic_a0007`` at
``speech16k``) and music (``vibe_ace_00-08s`` at ``tts22k``), from the true
magnitude:

* seconds per iteration of gla, fgla, agla, raar and dm (DM does two STFT pairs
  per iteration), of the **FFT floor** (one ``irfft`` + one ``rfft`` over the same
  frames, same dtype and library: scipy.fft, float32, one worker) and of
  ``librosa.griffinlim`` (through the ``librosa_gla`` plugin when installed,
  else called directly and labelled so); per-iteration cost is the slope
  ``(t(k0 + k) - t(k0)) / k`` so set-up and the final synthesis cancel. The
  methods are timed in turn within each repetition; ratios are taken within a
  repetition and their median reported (robust to load drifting on a shared
  machine), seconds are the minimum over repetitions;
* spectral convergence after 100 iterations (from zero phase, which librosa can
  do too, and from a seeded random phase), measured like the ``sc`` metric: STFT
  of the synthesised signal of the clip's length against the true magnitude;
* time per iteration and peak traced memory (tracemalloc) against clip length
  (1 s, 10 s, 60 s of tiled speech).

Writes ``results/bench_phase.md`` (``--out``): a summary of the headline numbers
first, then the full tables. The documentation site includes that file; nothing
rewrites the README.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy
import scipy.fft

from .. import registry
from ..datasets.bundled import Bundled
from ..errors import MelbenchError
from ..measures import spectral_convergence_db
from ..spec import FeatureSpec, get_spec
from ..stft import FFT_WORKERS

METHODS = ("gla", "fgla", "agla", "raar", "dm")
CLIPS = (("speech", "cmu_arctic_a0007", "speech16k"), ("music", "vibe_ace_00-08s", "tts22k"))
SUMMARY_HEADING = "## Summary"
GLA_L, FGLA_L = "gla (librosa's length)", "fgla (librosa's length)"


# --------------------------------------------------------------------------- helpers


def _load(clip_id: str, spec: FeatureSpec) -> np.ndarray:
    clip = next(Bundled(ids=[clip_id]).clips(spec))
    if clip.error:
        raise MelbenchError(f"bundled clip {clip_id}: {clip.error}")
    return np.asarray(clip.audio, dtype=np.float32)


def sc_db(spec: FeatureSpec, x: np.ndarray, magnitude: np.ndarray, length: int) -> float:
    """SC (dB) of the signal synthesised from ``x`` (``length`` samples) vs ``magnitude``."""
    m = np.abs(spec.stft(spec.istft(x, length=length)))
    return spectral_convergence_db(magnitude, m)


class _Librosa:
    """librosa's griffinlim: the ``librosa_gla`` plugin if installed, else a direct call."""

    def __init__(self) -> None:
        try:
            registry.get("phase", "librosa_gla")
            self.via_plugin = True
        except MelbenchError:
            self.via_plugin = False
        self.label = "librosa_gla" if self.via_plugin else "librosa.griffinlim (direct)"

    def run(self, magnitude, spec: FeatureSpec, n_iter: int, momentum: float, zero: bool,
            seed: int = 0) -> np.ndarray:
        init = "zero" if zero else "random"
        if self.via_plugin:
            p = registry.create("phase", "librosa_gla",
                                {"n_iter": max(int(n_iter), 1), "alpha": momentum,
                                 "init": init})
            return p(magnitude, spec, rng=seed)
        import librosa

        y = librosa.griffinlim(
            magnitude, n_iter=max(int(n_iter), 1), momentum=momentum,
            init=None if zero else "random", random_state=np.random.default_rng(seed),
            hop_length=spec.hop_length, win_length=spec.win_length, n_fft=spec.n_fft,
            window="hann" if spec.window == "hann" else spec.window_array, center=spec.center,
            pad_mode=spec.pad_mode, length=spec.n_samples(magnitude.shape[-1]),
        )
        return spec.stft(y)


def _ours(name: str, n_iter: int, **params) -> Callable:
    plugin = registry.create("phase", name, {"n_iter": int(n_iter), **params})
    return plugin


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _slope(run: Callable[[int], object], k0: int, k: int) -> float:
    """Seconds per iteration: ``(t(k0 + k) - t(k0)) / k``."""
    return max(_time(lambda: run(k0 + k)) - _time(lambda: run(k0)), 0.0) / k


def _floor_runner(magnitude: np.ndarray, spec: FeatureSpec) -> Callable[[int], None]:
    """One irfft + one rfft over all frames (frame-major, float32, scipy.fft), k times."""
    rng = np.random.default_rng(0)
    shape = (1, magnitude.shape[-1], spec.n_freq)
    z = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    def run(k: int) -> None:
        for _ in range(k):
            f = scipy.fft.irfft(z, n=spec.n_fft, axis=-1, workers=FFT_WORKERS)
            scipy.fft.rfft(f, axis=-1, workers=FFT_WORKERS, overwrite_x=True)

    return run


def _runners(magnitude, spec, lib: _Librosa, methods) -> dict[str, Callable[[int], object]]:
    out: dict[str, Callable[[int], object]] = {"fft floor": _floor_runner(magnitude, spec)}
    for m in methods:
        out[m] = (lambda mm: (lambda k: _ours(mm, k)(magnitude, spec, rng=0)))(m)
    out[lib.label] = lambda k: lib.run(magnitude, spec, max(k, 1), 0.99, False)
    return out


def _med(values) -> float:
    v = list(values)
    return statistics.median(v) if v else float("nan")


def time_methods(magnitude, spec, lib, methods, reps: int, k: int, k0: int = 2):
    """Per-iteration seconds (min over reps) and per-rep ratios to the floor and librosa."""
    runners = _runners(magnitude, spec, lib, methods)
    for run in runners.values():  # warm-up (numba, caches, FFT plans)
        run(k0)
    secs: dict[str, list[float]] = {n: [] for n in runners}
    for _ in range(reps):
        for name, run in runners.items():
            secs[name].append(_slope(run, k0, k))
    floor_ = secs["fft floor"]
    libs = secs[lib.label]
    rows = {}
    for name, s in secs.items():
        rows[name] = {
            "s_per_iter": min(s),
            "s_median": statistics.median(s),
            "x_floor": _med(a / f for a, f in zip(s, floor_, strict=True) if f > 0),
            "x_floor_best": min(s) / min(floor_) if min(floor_) > 0 else float("nan"),
            "x_faster_best": min(libs) / min(s) if min(s) > 0 else float("nan"),
            "x_faster_than_librosa": _med(b / a for a, b in zip(s, libs, strict=True) if a > 0),
        }
    return rows


def sc_table(magnitude, spec, lib, methods, length: int, n_iter: int) -> dict[str, dict]:
    """SC after ``n_iter`` iterations, from zero phase and from random phase (seed 0)."""
    rows: dict[str, dict] = {}
    for m in methods:
        rows[m] = {
            "zero": sc_db(spec, _ours(m, n_iter, init="zero")(magnitude, spec, rng=0),
                          magnitude, length),
            "random": sc_db(spec, _ours(m, n_iter)(magnitude, spec, rng=0), magnitude, length),
        }
    # librosa's griffinlim works on the natural length of the frames; ours by default on the
    # longest signal with these frames. Same update, same length: the same numbers.
    from ..phase.projections import fgla

    natural = spec.n_samples(magnitude.shape[-1])
    for name, alpha in (("gla", 0.0), ("fgla", 0.99)):
        rows[f"{name} (librosa's length)"] = {
            "zero": sc_db(spec, fgla(magnitude, spec, n_iter=n_iter, alpha=alpha,
                                     init_method="zero", length=natural), magnitude, length),
            "random": sc_db(spec, fgla(magnitude, spec, n_iter=n_iter, alpha=alpha, rng=0,
                                       length=natural), magnitude, length),
        }
    for mom, tag in ((0.0, "momentum=0"), (0.99, "momentum=0.99")):
        rows[f"{lib.label} ({tag})"] = {
            "zero": sc_db(spec, lib.run(magnitude, spec, n_iter, mom, True), magnitude, length),
            "random": sc_db(spec, lib.run(magnitude, spec, n_iter, mom, False), magnitude,
                            length),
        }
    return rows


def scaling(y: np.ndarray, spec: FeatureSpec, lib, methods, seconds, reps: int, k: int):
    """s/iter and peak traced memory against clip length (tiled audio)."""
    out = []
    for sec in seconds:
        n = int(round(sec * spec.sample_rate))
        yy = np.tile(y, int(np.ceil(n / y.size)))[:n]
        mag = np.abs(spec.stft(yy))
        rows = time_methods(mag, spec, lib, methods, reps=reps, k=k)
        for name in rows:
            if name == "fft floor":
                rows[name]["peak_mb"] = float("nan")
                continue
            if name == lib.label:
                def fn(mag=mag):
                    return lib.run(mag, spec, 3, 0.99, False)
            else:
                def fn(name=name, mag=mag):
                    return _ours(name, 3)(mag, spec, rng=0)
            fn()
            tracemalloc.start()
            fn()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows[name]["peak_mb"] = peak / 2**20
        out.append((sec, mag.shape[-1], rows))
    return out


# --------------------------------------------------------------------------- report


def _x(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0 (a timing lost in noise)."""
    return a / b if b > 0 else float("nan")


def _f(x: float, nd: int = 2) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"


def render(results, scale, lib, args, env: str) -> str:
    """Markdown report: the summary (headline numbers) first, then the full tables."""
    lines = [
        "# Projection phase retrieval: speed and quality",
        "",
        "Written by `melbench bench phase` "
        f"({args.reps} repetitions, slope over {args.iters} iterations, "
        f"SC after {args.sc_iters} iterations). {env}",
        "",
        "Seconds per iteration: minimum ('best') and median over repetitions. Ratios: median "
        "over repetitions of the ratio measured within one repetition (side by side); "
        "'(best)' = ratio of the minima (each method's least disturbed run). `x floor` = cost per "
        "iteration / cost of one irfft + one rfft over the same frames (scipy.fft, float32, "
        "one worker); `x faster` = librosa's cost per iteration / ours. DM does two STFT pairs "
        "per iteration. SC: spectral convergence (dB, lower is better) of the synthesised "
        "signal (the clip's length) against the true magnitude; 'zero' starts from zero phase "
        "(as librosa's `init=None`), 'random' from a seeded uniform phase.",
        "",
    ]
    for kind, clip_id, spec_name, n_frames, rows, scs in results:
        lines += [f"## {kind}: {clip_id} ({spec_name}, {n_frames} frames)", "",
                  "| method | ms/iter (best) | ms/iter (median) | x floor | x floor (best) "
                  "| x faster than librosa | x faster (best) | SC zero init | SC random init |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in rows.items():
            sc = scs.get(name)
            if name == lib.label:
                sc = scs.get(f"{lib.label} (momentum=0.99)")
            lines.append(
                f"| {name} | {r['s_per_iter'] * 1e3:.3f} | {r['s_median'] * 1e3:.3f} | "
                f"{_f(r['x_floor'])} | {_f(r['x_floor_best'])} | "
                f"{_f(r['x_faster_than_librosa'])} | {_f(r['x_faster_best'])} | "
                f"{_f(sc['zero']) if sc else ''} | {_f(sc['random']) if sc else ''} |")
        g0 = scs[f"{lib.label} (momentum=0)"]
        g9 = scs[f"{lib.label} (momentum=0.99)"]
        for name in ("gla (librosa's length)", "fgla (librosa's length)",
                     f"{lib.label} (momentum=0)"):
            lines.append(f"| {name} | | | | | | | {_f(scs[name]['zero'])} | "
                         f"{_f(scs[name]['random'])} |")
        lines += [
            "",
            "SC difference to librosa from the same zero phase, same signal length: gla "
            f"{scs[GLA_L]['zero'] - g0['zero']:+.3f} dB, fgla "
            f"{scs[FGLA_L]['zero'] - g9['zero']:+.3f} dB; with melbench's default length "
            f"(the longest signal with these frames): gla {scs['gla']['zero'] - g0['zero']:+.3f}"
            f" dB, fgla {scs['fgla']['zero'] - g9['zero']:+.3f} dB.",
            "",
        ]
    lines += ["## Scaling with clip length (speech16k, tiled cmu_arctic_a0007)", "",
              "Peak = peak traced memory (tracemalloc) of one call.", ""]
    names = list(scale[0][2])
    lines += ["| seconds | frames | " + " | ".join(f"{n} ms/iter" for n in names)
              + " | " + " | ".join(f"{n} peak MB" for n in names if n != "fft floor") + " |",
              "|" + "---:|" * (2 + 2 * len(names) - 1)]
    for sec, t, rows in scale:
        lines.append(f"| {sec:g} | {t} | "
                     + " | ".join(f"{rows[n]['s_per_iter'] * 1e3:.2f}" for n in names) + " | "
                     + " | ".join(f"{rows[n]['peak_mb']:.1f}" for n in names if n != "fft floor")
                     + " |")
    s0, t0, r0 = scale[0]
    lines += ["", "Growth relative to the shortest clip (frames ratio, then per method):", ""]
    for sec, t, rows in scale[1:]:
        parts = [f"{n} time x{_f(_x(rows[n]['s_per_iter'], r0[n]['s_per_iter']), 1)}"
                 + ("" if n == "fft floor"
                    else f", memory x{_f(_x(rows[n]['peak_mb'], r0[n]['peak_mb']), 1)}")
                 for n in names]
        lines.append(f"- {sec:g} s (frames x{t / t0:.1f}): " + "; ".join(parts))
    sp = results[0][4]
    mu = results[1][4] if len(results) > 1 else sp
    big = scale[-1]
    summary = [
        SUMMARY_HEADING,
        "",
        "`gla`, `fgla` (momentum 0.99), `agla`, `raar` and `dm` run on a dedicated STFT "
        "projector (one irfft + one rfft per projection, numba overlap-add, float32, buffers "
        "reused) and fuse their elementwise work into one compiled pass. Measured side by "
        f"side by `melbench bench phase` ({env.split(';')[0]}):",
        "",
        "| per iteration: median of side-by-side ratios (ratio of best times) | speech 4 s "
        "| music 8 s |",
        "|---|---:|---:|",
        *(f"| {m}, x the FFT floor (one irfft + one rfft) | {_f(sp[m]['x_floor'])} "
          f"({_f(sp[m]['x_floor_best'])}) | {_f(mu[m]['x_floor'])} ({_f(mu[m]['x_floor_best'])}) |"
          for m in ("gla", "fgla")),
        *(f"| {m}, x faster than librosa.griffinlim | {_f(sp[m]['x_faster_than_librosa'])} "
          f"({_f(sp[m]['x_faster_best'])}) | {_f(mu[m]['x_faster_than_librosa'])} "
          f"({_f(mu[m]['x_faster_best'])}) |" for m in ("gla", "fgla")),
        "",
        "Timings come from a 2-core machine shared with other jobs, so single runs are noisy; "
        "ratios are measured side by side within each repetition.",
        "",
        "From the same zero phase and for the same signal length, SC after 100 iterations "
        f"equals librosa's within {max(abs(d) for d in _sc_diffs(results, lib)):.2f} dB "
        "(melbench's default projects on the longest signal with the given frames, which "
        "differs from librosa's shorter natural length when a clip is not a multiple of the "
        "hop: SC differences then {:+.2f}, {:+.2f} dB (gla, fgla) on speech and {:+.2f}, "
        "{:+.2f} dB on music). Time and peak memory grow ".format(
            *_sc_diffs(results, lib, True))
        + f"about linearly with length ({scale[0][0]:g} s to {big[0]:g} s, frames "
        f"x{big[1] / scale[0][1]:.0f}: "
        f"fgla time x{_f(_x(big[2]['fgla']['s_per_iter'], scale[0][2]['fgla']['s_per_iter']), 0)} "
        f"(the FFT floor itself x"
        f"{_f(_x(big[2]['fft floor']['s_per_iter'], scale[0][2]['fft floor']['s_per_iter']), 0)}"
        "), peak memory "
        f"x{_f(_x(big[2]['fgla']['peak_mb'], scale[0][2]['fgla']['peak_mb']), 0)}, "
        f"{big[2]['fgla']['peak_mb']:.0f} MB for {big[0]:g} s vs librosa's "
        f"{big[2][lib.label]['peak_mb']:.0f} MB). Full tables below.",
        "",
        "Warm starts and schedules: every method takes a complex spectrogram or phases as "
        "`init`; `phase=chain` runs several methods in turn, each started from the previous "
        "output, e.g. `melbench run phase=chain 'phase.steps=[raar:300,fgla:100]'` or "
        "`'phase.steps=\"pghi>fgla:200\"'` (step = `NAME[:N_ITER][:KEY=VALUE]...`). With "
        "`trace=true` the rows carry per-iteration `{iter, sc_db, t}` records (cumulative "
        "across chain steps, with the step name).",
        "",
    ]
    return "\n".join([*lines[:4], *summary, "## Full tables", "", *lines[4:]]) + "\n"


def _sc_diffs(results, lib, default_length: bool = False):
    g, f = ("gla", "fgla") if default_length else (GLA_L, FGLA_L)
    for *_, scs in results:
        yield scs[g]["zero"] - scs[f"{lib.label} (momentum=0)"]["zero"]
        yield scs[f]["zero"] - scs[f"{lib.label} (momentum=0.99)"]["zero"]




# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables and write them to ``--out``."""
    ap = argparse.ArgumentParser(prog="melbench bench phase", description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="timing repetitions (default 5)")
    ap.add_argument("--iters", type=int, default=20,
                    help="iterations per timing slope (default 20)")
    ap.add_argument("--sc-iters", type=int, default=100, help="iterations for the SC columns")
    ap.add_argument("--lengths", default="1,10,60", help="clip lengths in seconds for scaling")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--out", default="results/bench_phase.md", help="Markdown output file")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 2 repetitions, 5 iterations, lengths 1,3 s")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.iters, args.sc_iters, args.lengths = 2, 5, 10, "1,3"
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    lib = _Librosa()
    env = (f"python {platform.python_version()}, numpy {np.__version__}, scipy "
           f"{scipy.__version__}; {platform.machine()}, {len(_cpus())} CPU(s) shared")
    print(f"melbench bench phase: librosa via {lib.label}; {env}", flush=True)

    results = []
    speech = None
    for kind, clip_id, spec_name in CLIPS:
        spec = get_spec(spec_name)
        y = _load(clip_id, spec)
        if kind == "speech":
            speech = (y, spec)
        mag = np.abs(spec.stft(y))
        print(f"\n{kind}: {clip_id} at {spec_name}, {mag.shape[-1]} frames", flush=True)
        rows = time_methods(mag, spec, lib, methods, reps=args.reps, k=args.iters)
        for name, r in rows.items():
            print(f"  {name:32s} {r['s_per_iter'] * 1e3:8.3f} ms/iter  x floor "
                  f"{r['x_floor']:5.2f}  x faster than librosa {r['x_faster_than_librosa']:5.2f}",
                  flush=True)
        scs = sc_table(mag, spec, lib, methods, y.size, args.sc_iters)
        for name, s in scs.items():
            print(f"  SC@{args.sc_iters} {name:40s} zero {s['zero']:7.2f} dB  "
                  f"random {s['random']:7.2f} dB", flush=True)
        results.append((kind, clip_id, spec_name, mag.shape[-1], rows, scs))

    assert speech is not None
    seconds = [float(s) for s in args.lengths.split(",")]
    print("\nscaling (speech16k):", flush=True)
    scale = scaling(speech[0], speech[1], lib, methods, seconds, reps=args.reps,
                    k=max(3, args.iters // 2))
    for sec, t, rows in scale:
        print(f"  {sec:5g} s {t:6d} frames: " + ", ".join(
            f"{n} {r['s_per_iter'] * 1e3:.2f} ms/{_f(r['peak_mb'], 1)} MB"
            for n, r in rows.items()), flush=True)

    report = render(results, scale, lib, args, env)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


def _cpus() -> list[int]:
    try:
        import os

        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        import os

        return list(range(os.cpu_count() or 1))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
