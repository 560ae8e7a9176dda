"""``melbench bench local_phase``: local and non-iterative phase retrieval, side by side.

One run on the bundled speech (``cmu_arctic_a0007``) and music (``vibe_ace_00-08s``),
each at ``speech16k`` and ``tts22k`` (Hann window), at ``speech16k`` with a ``sqrt_hann``
window, and at ``speech16k`` with the reference LWS package's own window (the square root
of a half-sample-offset Hann, symmetric about (N-1)/2, made tight), from the true magnitude:

* seconds (minimum over repetitions; the methods are timed in turn within each
  repetition, ratios are medians of within-repetition ratios) and spectral convergence
  (STFT of the synthesised signal against the true magnitude, as the ``sc`` metric) of
  ``lws`` (speech and music presets as the reference, plus melbench's variants: silent
  edge frames, and coverage-normalised causal weights), ``pghi``, ``spsi``, ``rtisi_la``
  (and the FFT floor of its updates: as many real FFT pairs of ``n_fft`` points, compiled),
  ``fgla`` with 100 iterations (seeded random start), ``pghi`` then ``fgla`` (100
  iterations, warm-started from PGHI's output), and the reference package through the
  ``lws_ref`` plugin where it is installed: with the spec's own window (faithful
  translation) and, on Hann specs, with the package's own window (how it is usually called);
* the LWS music stages side by side: SC after the no-future, online and batch stages of
  melbench's ``lws`` and of the reference package on the same window;
* the targets: melbench's ``lws`` no slower than ``lws_ref`` on every window and within
  0.1 dB of it after each stage (where the reference's kernels are not broken, see
  docs/local_phase.md); ``pghi`` a fraction of the time of 100 ``fgla`` iterations;
  ``pghi`` then ``fgla`` better than ``fgla`` alone.

Writes ``results/bench_local_phase.md`` (``--out``): a summary of the headline
first, then the full tables. The documentation site includes that file; nothing
rewrites the README.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rocket_fft  # noqa: F401  (numpy.fft inside numba, for the FFT floor)
from numba import njit

from .. import registry
from ..datasets.bundled import Bundled
from ..errors import MelbenchError
from ..metrics.spectral import spectral_convergence_db
from ..phase.lws import lws as lws_stages_run
from ..spec import FeatureSpec, get_spec

CLIPS = (("speech", "cmu_arctic_a0007"), ("music", "vibe_ace_00-08s"))
SUMMARY_HEADING = "## Summary"


def lws_package_window(n_fft: int, hop_length: int) -> np.ndarray:
    """The lws package's default window of ``n_fft`` samples at hop ``hop_length``.

    The square root of ``0.5 (1 - cos(2 pi (2j + 1) / (2N)))`` (symmetric about (N-1)/2),
    made tight (``awin = sqrt(awin * awin / sum of squares)``), as ``lws.lws(N, a)`` builds it.
    """
    w = np.sqrt(0.5 * (1 - np.cos(2 * np.pi * np.arange(1, 2 * n_fft, 2) / (2 * n_fft))))
    q = -(-n_fft // hop_length)
    pad = np.zeros(q * hop_length)
    pad[:n_fft] = w * w
    w = np.sqrt(w * w / pad.reshape(q, hop_length).sum(axis=0)[np.arange(n_fft) % hop_length])
    w.setflags(write=False)
    return w


class LwsWindowSpec(FeatureSpec):
    """A spec whose analysis window is the lws package's own (no melbench preset has it)."""

    @functools.cached_property
    def window_array(self) -> np.ndarray:
        """:func:`lws_package_window` of the spec's n_fft and hop."""
        return lws_package_window(self.n_fft, self.hop_length)


def _specs() -> list[tuple[str, FeatureSpec]]:
    base = get_spec("speech16k")
    own = LwsWindowSpec(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    return [
        ("speech16k", base),
        ("tts22k", get_spec("tts22k")),
        ("speech16k+sqrt_hann", get_spec("speech16k", window="sqrt_hann",
                                         name="speech16k-sqrthann")),
        ("speech16k+lws_window", own),
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
    lws_ss = mk("phase", "lws", {"mode": "speech", "edges": "silent"})
    lws_mc = mk("phase", "lws", {"mode": "music", "edges": "silent", "causal": "coverage"})
    lws_ms = mk("phase", "lws", {"mode": "music", "edges": "silent"})
    pghi = mk("phase", "pghi")
    spsi = mk("phase", "spsi")
    rtisi = mk("phase", "rtisi_la")
    fgla = mk("phase", "fgla", {"n_iter": 100})
    out: dict[str, Callable] = {
        "lws (speech)": lambda m: lws_s(m, spec, rng=0),
        "lws (music)": lambda m: lws_m(m, spec, rng=0),
        "lws (speech, silent edges)": lambda m: lws_ss(m, spec, rng=0),
        "lws (music, silent edges)": lambda m: lws_ms(m, spec, rng=0),
        "lws (music, silent, coverage)": lambda m: lws_mc(m, spec, rng=0),
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
        if spec.window == "hann" and not isinstance(spec, LwsWindowSpec):
            own = mk("phase", "lws_ref", {"mode": "speech", "window": "lws"})
            out["lws_ref (speech, own window)"] = lambda m: own(m, spec, rng=0)
    return out


@njit(cache=True)
def _fft_pairs(v, n):
    acc = 0.0
    for _ in range(n):
        acc += np.fft.irfft(np.fft.rfft(v), v.size)[0]
    return acc


def rtisi_floor(spec: FeatureSpec, frames: int) -> float:
    """Seconds of the real FFT pairs ``rtisi_la`` (defaults) does on ``frames`` frames."""
    la = -(-spec.n_fft // spec.hop_length) - 1
    n = registry.create("phase", "rtisi_la").params.n_iter * (la + 1) * frames
    v = np.random.default_rng(0).random(spec.n_fft)
    _fft_pairs(v, 1)
    t0 = time.perf_counter()
    _fft_pairs(v, n)
    return time.perf_counter() - t0


def lws_stages(mag: np.ndarray, spec: FeatureSpec, y_len: int) -> dict[str, list[float]]:
    """SC after the no-future, online and batch stages (music preset), melbench and lws."""
    mag = np.asarray(mag, dtype=np.float64)
    out = {"lws": [sc_db(spec, lws_stages_run(mag, spec, nofuture_iterations=1,
                                              online_iterations=on, batch_iterations=ba),
                         mag, y_len)
                   for on, ba in ((0, 0), (10, 0), (10, 100))]}
    try:
        import lws as lws_pkg  # noqa: PLC0415
    except ImportError:
        return out
    with contextlib.redirect_stdout(io.StringIO()):
        ref = lws_pkg.lws(np.array(spec.window_array, dtype=np.float64), spec.hop_length,
                          fftsize=spec.n_fft, mode="music")
    s0 = ref.nofuture_lws(mag.T.copy())
    s1 = ref.online_lws(s0)
    s2 = ref.batch_lws(s1)
    out["lws_ref"] = [sc_db(spec, s.T, mag, y_len) for s in (s0, s1, s2)]
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
        times.setdefault("rtisi_la FFT floor", []).append(rtisi_floor(spec, mag.shape[1]))
    stages = lws_stages(mag, spec, y.shape[-1])
    return mag.shape[1], scs, times, stages


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
    for kind, clip_id, spec_label, frames, scs, times, stages in cells:
        lines += [f"## {kind}: `{clip_id}` at {spec_label} ({frames} frames)", "",
                  "| method | seconds | SC (dB) |", "|---|---:|---:|"]
        for label in scs:
            lines.append(f"| {label} | {_f(min(times[label]), 3)} | {_f(scs[label])} |")
        lines.append(f"| rtisi_la FFT floor | {_f(min(times['rtisi_la FFT floor']), 3)} | |")
        lines.append("")
        lines += ["LWS music stages, SC (dB) after each:", "",
                  "| stage | " + " | ".join(stages) + " |",
                  "|---|" + "---:|" * len(stages)]
        for i, stage in enumerate(("no future (1)", "online (10)", "batch (100)")):
            lines.append(f"| {stage} | " + " | ".join(_f(v[i]) for v in stages.values()) + " |")
        lines.append("")
        notes = []
        notes.append("rtisi_la / its FFT floor: time "
                     f"x{_f(_ratio(times, 'rtisi_la', 'rtisi_la FFT floor'))}")
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
    for kind, _, spec_label, _, scs, times, _ in cells:
        row = [f"{kind}, {spec_label}"] + [
            f"{_f(scs[k], 1)} dB / {_f(min(times[k]), 2)} s" for k in order]
        head.append("| " + " | ".join(row) + " |")
    head.append("")
    bullets = []
    if with_ref:
        for kind, label in [(k, lab) for k in ("speech", "music") for lab in (
                "speech16k+sqrt_hann", "speech16k+lws_window")]:
            c = by.get((kind, label))
            if c:
                scs, times = c[4], c[5]
                name = "sqrt-Hann" if label.endswith("sqrt_hann") else "lws's own window"
                bullets.append(
                    f"{kind}, {name}: melbench `lws` takes "
                    f"x{_f(_ratio(times, 'lws (speech)', 'lws_ref (speech)'))} the reference's "
                    f"time, SC {scs['lws (speech)'] - scs['lws_ref (speech)']:+.2f} dB relative "
                    f"to it (music preset: x{_f(_ratio(times, 'lws (music)', 'lws_ref (music)'))}"
                    f", {scs['lws (music)'] - scs['lws_ref (music)']:+.2f} dB; negative = "
                    "melbench better)")
            c = by.get((kind, "speech16k"))
            if label.endswith("lws_window") and c and "lws_ref (speech, own window)" in c[4]:
                scs = c[4]
                bullets.append(
                    f"{kind}, Hann (speech16k): `lws` {_f(scs['lws (speech)'], 1)} dB vs the "
                    f"reference called with its own window "
                    f"{_f(scs['lws_ref (speech, own window)'], 1)} dB; given the spec's window "
                    f"through `lws_ref` it reaches {_f(scs['lws_ref (speech)'], 1)} dB")
    for kind, _, spec_label, _, scs, times, _ in cells:
        if spec_label in ("speech16k+sqrt_hann", "speech16k+lws_window"):
            continue
        bullets.append(
            f"{kind}, {spec_label}: pghi takes x{_f(_ratio(times, 'pghi', 'fgla 100'), 3)} "
            f"the time of 100 fgla iterations; pghi then fgla 100 reaches "
            f"{_f(scs['pghi > fgla 100'], 1)} dB vs {_f(scs['fgla 100'], 1)} dB for fgla 100 "
            "from random phase")
    head += [f"- {b}" for b in bullets]
    if with_ref:
        head += ["", *lws_speed_table(cells)]
    head += ["", "Full tables below. Chains such as "
             "`phase=chain 'phase.steps=\"pghi>fgla:100\"'` run the warm-started variant in "
             "a sweep.", ""]
    return "\n".join([*lines[:4], *head, *lines[4:]]), "\n".join(head)




def lws_speed_table(cells) -> list[str]:
    """Markdown lines: melbench's ``lws`` time over ``lws_ref``'s, per cell and preset.

    The target of issue 15 ("no slower on every window"): each ratio is the median over
    the repetitions of the two times measured one after the other in that repetition;
    beside it, in brackets, the ratio of the two minimum times.
    """
    lines = ["melbench `lws` time / `lws_ref` time on the same window (median of "
             "within-repetition ratios; in brackets the ratio of the minimum times; below 1 = "
             "melbench faster):", "",
             "| clip, spec | speech preset | music preset |", "|---|---:|---:|"]
    for kind, _, spec_label, _, _, times, _ in cells:
        r = [f"x{_f(_ratio(times, f'lws ({m})', f'lws_ref ({m})'))} "
             f"(x{_f(min(times[f'lws ({m})']) / min(times[f'lws_ref ({m})']))})"
             for m in ("speech", "music")]
        lines.append(f"| {kind}, {spec_label} | {r[0]} | {r[1]} |")
    return lines


def _render_stages(extra) -> str:
    lines = ["## LWS music stages at hop n_fft/8 (speech16k, hop 128)", "",
             "Here the reference runs its general kernels (`LWSanyQ`, `NoFuture_LWSanyQ`, "
             "`Asym_UpdatePhaseanyQ`); at 75% overlap its no-future kernel "
             "(`NoFuture_LWSQ4`) reads bin `2n - k` instead of `n - k` (an index added twice), "
             "which is the -4 to -5 dB no-future column above. SC (dB) after each stage:", "",
             "| clip | stage | lws | lws_ref | difference |", "|---|---|---:|---:|---:|"]
    for kind, clip_id, stages in extra:
        for i, stage in enumerate(("no future (1)", "online (10)", "batch (100)")):
            ours = stages["lws"][i]
            ref = stages.get("lws_ref", [float("nan")] * 3)[i]
            lines.append(f"| {kind} `{clip_id}` | {stage} | {_f(ours)} | {_f(ref)} | "
                         f"{ours - ref:+.2f} |")
    return "\n".join(lines + [""])


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
            frames, scs, times, stages = run_cell(y, spec, args.repeat, with_ref)
            cells.append((kind, clip_id, spec_label, frames, scs, times, stages))
            print(f"{kind} {clip_id} {spec_label}: " + ", ".join(
                f"{k} {scs[k]:.2f} dB {min(times[k]):.3f} s" for k in scs), flush=True)
    extra = []  # the stages where the reference runs its general kernels (hop n_fft / 8)
    spec8 = get_spec("speech16k", hop_length=128, name="speech16k-hop128")
    for kind, clip_id in CLIPS:
        y = _load(clip_id, spec8)
        if args.seconds:
            y = y[: int(args.seconds * spec8.sample_rate)]
        mag = np.abs(spec8.stft(y, dtype=np.float64))
        extra.append((kind, clip_id, lws_stages(mag, spec8, y.shape[-1])))
    full, section = render(cells, with_ref, args, env)
    full += _render_stages(extra)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(full, encoding="utf-8")
    print()
    print(section)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
