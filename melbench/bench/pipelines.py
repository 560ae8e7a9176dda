"""``melbench bench pipelines``: whole mel -> audio pipelines side by side with librosa.

For every spec, clip and *track* (the clean mel and degraded mels: log-mel
noise, smoothing, quantisation, :mod:`melbench.degrade`), every *cell*
(inverter + phase retriever, written ``INVERTER[:N][:K=V]+PHASE[:N][:K=V]``,
``PHASE`` may be ``chain=STEP>STEP``) turns the mel into audio exactly as
:func:`melbench.api.invert` does (a joint inverter's phase goes on as the phase
retriever's warm start), and librosa's ``mel_to_audio`` (its defaults: 32
Griffin-Lim iterations, with the spec's STFT and filterbank) does the same in
the same run. Per row:

* ``seconds``: CPU time of the whole call (mel in, audio out), one thread
  (BLAS limited with threadpoolctl, scipy.fft with one worker), after an untimed
  warm-up on the clip's first frames (on the clean track the minimum of
  ``--timing-repeat`` calls, the clip's cells timed in turn); CPU time, because the machine is shared
  and wall time measures the neighbours. ``x_librosa`` = seconds / librosa's
  seconds on the same clip and track;
* ``pesq_wb``: wide-band PESQ at 16 kHz (speech only);
* ``sc_db``: spectral convergence of the output audio's STFT magnitude against
  the clip's true magnitude (dB, lower is better);
* ``visqol``: ViSQOL MOS-LQO (:mod:`melbench.metrics.visqol`; speech mode for speech,
  audio mode for music and synthetic clips, ``visqol_mode``) where visqol-python is
  installed, on the ``--visqol-tracks`` (default the clean mel);
* ``mel_sc_db``, ``logmel_db``: reference-free criteria, the output audio's mel against
  the given (possibly degraded) mel (:mod:`melbench.inverters.guarded`); ``guard``: what
  a ``guarded`` cell chose and its two candidates' criterion values.

Clips: the bundled set (speech and the music excerpt) and the synthetic
``harmonic`` vibrato tone (SC only), each cut to its first ``--crop`` seconds
(default 2.5; the default clips are :data:`CLIPS`); librosa runs on the clean track
only (it sets the time bound).
Writes ``results/bench_pipelines.md``, ``.csv`` and ``.png`` (Pareto plot of
PESQ against seconds); the CSV is the table :mod:`melbench.quality` chooses the
quality presets from (the ``.md`` says which it chose and why). A failing cell is recorded in its row
(``status``, ``error``) and the run goes on; rows are written atomically after
each clip and a rerun with the same ``--out`` skips the rows it already has.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import registry
from ..errors import MelbenchError, ParameterError
from ..inverters.guarded import ITERATION_COUNTERS
from ..plugin import phase_stage
from ..spec import FeatureSpec, get_spec
from .pipelines_page import (
    LIB,
    _csv_text,
    pareto_plot,
    to_markdown,
    visqol_mode,
)

#: Presets measured by default: 8, 16, 22.05, 24 and 44.1 kHz; 80, 100 and 128 bands; centre
#: and "same" framing; linear, ln and HTK/unnormalised filterbanks.
SPECS = ("speech16k", "tts22k", "narrowband8k", "hifigan_v1", "bigvgan_24k_100",
         "bigvgan_44k_128", "vocos_24k")
#: Cells measured by default (the reference cell of :mod:`melbench.quality` first).
CELLS = (
    "nnls+fgla:100",
    "pinv+fgla:32",
    "nnls_consistent+fgla:100",
    "joint_fgla:300+fgla:32",
    "joint_tc+fgla:32",
    "guarded:200+fgla:32",
    "guarded:200:inner=joint_tc+fgla:32",
    "guarded:200:inner=joint_tcr+fgla:0",
    "guarded:200:inner=joint_lr+fgla:32",
    "guarded:200:inner=joint_auto+fgla:0",
    "guarded_wave+fgla:0",
    "oracle+fgla:100",
)
#: Cells also run on the degraded tracks (the robustness comparison; the others cannot
#: be chosen as ``balanced``/``best``, see :mod:`melbench.quality`).
DEGRADED_CELLS = ("nnls+fgla:100", "joint_fgla:300+fgla:32", "joint_tc+fgla:32",
                  "guarded:200+fgla:32", "guarded:200:inner=joint_tc+fgla:32",
                  "guarded:200:inner=joint_tcr+fgla:0", "guarded:200:inner=joint_lr+fgla:32",
                  "guarded:200:inner=joint_auto+fgla:0", "guarded_wave+fgla:0")
#: Clips measured by default: the 16 kHz CMU ARCTIC clip, two of the four 8 kHz Allison
#: prompts, the music excerpt and the synthetic harmonic tone (``--clips`` for others).
CLIPS = ("cmu_arctic_a0007", "allison_vm-review", "allison_tt-allbusy", "vibe_ace_00-08s",
         "synthetic_harmonic")
#: Tracks: name -> (degradation name, params); "clean" is the ground-truth mel.
TRACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "clean": ("none", {}),
    "noise20": ("noise", {"snr_db": 20.0}),
    "smooth1": ("smooth", {"time_sigma": 1.0, "freq_sigma": 1.0}),
    "quant6": ("quantize", {"bits": 6}),
}
SYNTHETIC = ("harmonic",)


def parse_cell(text: str) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """``"joint_fgla:300+fgla:100"`` -> ``(inverter, params, phase, params)``.

    Each side is a chain step (``NAME[:N][:KEY=VALUE]...``,
    :func:`melbench.phase.chain.parse_step`); a bare count sets the plugin's iteration
    parameter (``n_iter`` for the phase retrievers and ``nnls_consistent``, see
    :data:`melbench.inverters.guarded.ITERATION_COUNTERS` for the others); ``chain=a>b``
    is a chain of phase steps.
    """
    from ..phase.chain import parse_step

    left, sep, right = text.partition("+")
    if not sep or not left.strip() or not right.strip():
        raise ParameterError(f"cell {text!r}: expected INVERTER+PHASE, e.g. joint_fgla:300+fgla:100")
    inv, inv_params = parse_step(left.strip())
    if "n_iter" in inv_params and inv in ITERATION_COUNTERS:
        inv_params[ITERATION_COUNTERS[inv]] = inv_params.pop("n_iter")
    right = right.strip()
    if right.startswith("chain="):
        return inv, inv_params, "chain", {"steps": right[len("chain="):]}
    ph, ph_params = parse_step(right)
    if "n_iter" in ph_params:
        counter = registry.get("phase", ph).iterations_param
        if counter and counter != "n_iter":
            ph_params[counter] = ph_params.pop("n_iter")
    return inv, inv_params, ph, ph_params


def _librosa_call(spec: FeatureSpec, length: int | None,
                  seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The ``mel_to_audio`` of librosa with the spec's STFT, seeded ("same" framing: center=False).

    ``mel_to_audio`` is ``mel_to_stft`` followed by ``griffinlim`` (32 iterations); the
    two are called here as it calls them, plus ``random_state=seed`` (``mel_to_audio``
    cannot pass it, and its unseeded random phase would make reruns differ). librosa
    knows centre framing and none; a "same" mel (frames of the audio padded by
    ``(n_fft - hop) // 2`` each side) is inverted with ``center=False`` and that padding
    cut off the front of the output, so sample 0 is the clip's sample 0 as for every cell.
    """
    import librosa

    pad = spec.frame_padding if spec.framing == "same" else 0

    def run(mel_lin: np.ndarray) -> np.ndarray:
        stft = librosa.feature.inverse.mel_to_stft(
            mel_lin, sr=spec.sample_rate, n_fft=spec.n_fft, power=float(spec.power),
            fmin=spec.fmin, fmax=spec.fmax, htk=spec.htk,
            norm="slaney" if spec.mel_norm == "slaney" else None)
        y = librosa.griffinlim(
            stft, n_iter=32, hop_length=spec.hop_length, win_length=spec.win_length,
            n_fft=spec.n_fft, window=spec.window, center=spec.center, pad_mode=spec.pad_mode,
            length=None if pad else length, random_state=seed)
        if pad:
            y = y[pad:]
            if length is not None:
                y = np.pad(y[:length], (0, max(0, length - y.shape[-1])))
        return y
    return run


def _cell_call(cell: str, spec: FeatureSpec, length: int, true_mag: np.ndarray,
               seed: int, last: dict | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Mel (the spec's form) -> audio, as :func:`melbench.api.invert` does it.

    ``last``, when given, receives the inverter's context of the latest call (``"ctx"``).
    """
    inv_name, inv_params, ph_name, ph_params = parse_cell(cell)
    inv = registry.create("inverter", inv_name, inv_params)
    ph = registry.create("phase", ph_name, ph_params)
    for p in (inv, ph):
        reason = p.skip(spec)
        if reason:
            raise ParameterError(f"{p.kind} {p.label} declines {spec}: {reason}")

    def run(mel: np.ndarray) -> np.ndarray:
        n = mel.shape[-1]
        ctx: dict[str, Any] = {"reference_magnitude": true_mag[..., :n]}
        target = inv(mel, spec, context=ctx)
        if last is not None:
            last["ctx"] = ctx
        x = phase_stage(ph, target, spec, ctx, rng=seed)
        return spec.istft(x, length=length if n == true_mag.shape[-1] else None)
    return run


def _pesq(spec: FeatureSpec, ref: np.ndarray, est: np.ndarray) -> float:
    from pesq import pesq

    from ..metrics.perceptual import resample_for_pesq

    return float(pesq(16000, resample_for_pesq(ref, spec.sample_rate, 16000),
                      resample_for_pesq(est, spec.sample_rate, 16000), "wb"))


def clips_for(spec: FeatureSpec, ids: list[str] | None, synthetic: bool, crop: float):
    """``(id, kind, audio)`` of the bundled clips (and synthetic signals) at the spec's rate."""
    from ..datasets.bundled import Bundled
    from ..datasets.synthetic import synthetic_signal

    out = []
    bundled = [i for i in ids or [] if not i.startswith("synthetic_")]
    for clip in (Bundled(ids=bundled).clips(spec) if bundled or not ids else []):
        if clip.error:
            continue
        y = clip.audio
        if crop > 0:
            y = y[: int(crop * spec.sample_rate)]
        out.append((clip.id, clip.meta.get("kind", ""), np.ascontiguousarray(y, dtype=np.float32)))
    if synthetic:
        for kind in SYNTHETIC:
            if ids and f"synthetic_{kind}" not in ids:
                continue
            out.append((f"synthetic_{kind}", "synthetic",
                        synthetic_signal(kind, spec.sample_rate, 3.0, seed=0)))
    return out


def run(specs: list[str], cells: list[str], tracks: list[str], *, clip_ids: list[str] | None = None,
        synthetic: bool = True, crop: float = 0.0, seed: int = 0, degraded_cells: list[str] | None = None,
        done: set | None = None, on_clip: Callable[[list[dict]], None] | None = None,
        visqol_tracks: tuple[str, ...] = (), timing_repeat: int = 1,
        log=print) -> list[dict[str, Any]]:
    """Measure every (spec, track, clip, cell) and librosa; return the rows.

    On the clean track (where librosa runs and the time ratios are taken) every call is
    timed ``timing_repeat`` times, the cells of a clip in turn (:func:`retime`), and the
    minimum kept; the repeats must give the same audio bit for bit (else the row fails).

    ``degraded_cells`` limits which cells run on the degraded tracks (default: all);
    ViSQOL is measured on the tracks in ``visqol_tracks`` (none by default).
    ``done`` holds ``(spec, track, clip, cell)`` keys to skip (resume); ``on_clip``
    receives each clip's rows as soon as they are measured.
    """
    from threadpoolctl import threadpool_limits

    from ..metrics.spectral import spectral_convergence_db

    rows: list[dict[str, Any]] = []
    done = done or set()
    with threadpool_limits(1):
        for spec_name in specs:
            spec = get_spec(spec_name)
            for clip_id, kind, audio in clips_for(spec, clip_ids, synthetic, crop):
                true_mag = spec.magnitude(audio)
                clean = spec.mel_from_magnitude(true_mag)
                for track in tracks:
                    dname, dparams = TRACKS[track]
                    degradation = registry.create("degrade", dname, dparams)
                    mel = degradation(clean, spec, np.random.default_rng([seed, 1]))
                    todo = ([LIB] if track == "clean" else []) + [
                        c for c in cells if track == "clean" or degraded_cells is None
                        or c in degraded_cells]
                    if track != "clean":
                        todo = [c for c in todo if not c.startswith("oracle")]
                    clip_rows = []
                    calls: dict[str, tuple] = {}
                    repeats = timing_repeat - 1 if track == "clean" else 0
                    for cell in todo:
                        if (spec_name, track, clip_id, cell) in done:
                            continue
                        row = _measure(cell, spec, spec_name, track, clip_id, kind, audio, true_mag,
                                       mel, seed, spectral_convergence_db,
                                       visqol=track in visqol_tracks,
                                       keep=calls if repeats else None)
                        clip_rows.append(row)
                        log(f"{spec_name:9s} {track:8s} {clip_id[:24]:24s} {cell:34s} "
                            f"{row['seconds']:7.3f} s  PESQ {row['pesq_wb']:5.2f}  SC {row['sc_db']:7.2f}"
                            f"  ViSQOL {row['visqol']:5.2f}  melSC {row['mel_sc_db']:7.2f}"
                            + (f"  {row['guard']}" if row["guard"] else "")
                            + (f"  {row['error']}" if row["error"] else ""))
                    if repeats:
                        retime(clip_rows, calls, repeats)
                    rows.extend(clip_rows)
                    if on_clip is not None and clip_rows:
                        on_clip(clip_rows)
    return rows


def retime(rows: list[dict[str, Any]], calls: Mapping[str, tuple], rounds: int) -> None:
    """Time every ok row's call ``rounds`` more times, the cells in turn; keep the minimum.

    ``calls[cell]`` is ``(fn, arg, y)`` as :func:`_measure` left it (``y`` its first output).
    Interleaving the cells round by round puts librosa's calls and each cell's close in
    time, so a slow spell of the shared machine falls on all of them alike. A repeat that
    gives other audio than the first call fails the row (the cell is not reproducible).
    """
    live = [r for r in rows if r["status"] == "ok" and r["cell"] in calls]
    for _ in range(rounds):
        for r in live:
            if r["status"] != "ok":
                continue
            fn, arg, y0 = calls[r["cell"]]
            t0 = time.process_time()
            y = fn(arg)
            r["seconds"] = min(r["seconds"], time.process_time() - t0)
            if not np.array_equal(np.asarray(y), y0):
                r["status"] = "failed"
                r["error"] = ("MelbenchError: repeated calls with the same seed gave different audio "
                              f"(max difference {np.max(np.abs(np.asarray(y) - y0)):.3g}): the cell "
                              "is not reproducible")


def visqol_available() -> str | None:
    """None if ViSQOL can be measured here, else the reason it cannot."""
    import importlib.util

    if importlib.util.find_spec("visqol") is None:
        return ("visqol-python is not installed (the eval-metrics extra: `make eval-data` or "
                "`pip install -e '.[visqol]'` in melbench's clone)")
    return None


def _visqol(spec: FeatureSpec, kind: str, ref: np.ndarray, est: np.ndarray) -> float:
    from ..metrics.visqol import visqol_moslqo

    return visqol_moslqo(ref, est, spec.sample_rate, mode=visqol_mode(kind))


def reference_free(spec: FeatureSpec, mel: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(mel_sc_db, logmel_db)`` of output audio against the mel it was made from.

    The guard criteria of :mod:`melbench.inverters.guarded` (no reference audio): the
    audio's mel against the given (possibly degraded) mel, both linear in ``spec.domain``.
    """
    from ..inverters.guarded import mel_criterion

    lin = spec.decompress(mel)
    est = spec.mel(y, compress=False)[..., : lin.shape[-1]]
    return (mel_criterion(est, lin, spec, "mel_sc"), mel_criterion(est, lin, spec, "logmel"))


def _measure(cell, spec, spec_name, track, clip_id, kind, audio, true_mag, mel, seed, sc_fn, *,
             visqol: bool = False, keep: dict | None = None):
    row: dict[str, Any] = {
        "spec": spec_name, "track": track, "clip": clip_id, "kind": kind, "cell": cell,
        "inverter": "", "inverter_params": "", "phase": "", "phase_params": "",
        "seconds": math.nan, "x_librosa": math.nan, "pesq_wb": math.nan, "sc_db": math.nan,
        "visqol": math.nan, "visqol_mode": "", "mel_sc_db": math.nan, "logmel_db": math.nan,
        "guard": "", "status": "ok", "error": "",
    }
    last: dict[str, Any] = {}
    try:
        n = audio.shape[-1]
        if cell == LIB:
            fn = _librosa_call(spec, n, seed)
            arg = spec.decompress(mel)
            row["inverter"], row["phase"] = "librosa.mel_to_stft", "librosa.griffinlim"
            row["inverter_params"], row["phase_params"] = "{}", json.dumps({"n_iter": 32})
        else:
            inv, ip, ph, pp = parse_cell(cell)
            row.update(inverter=inv, inverter_params=json.dumps(ip, sort_keys=True), phase=ph,
                       phase_params=json.dumps(pp, sort_keys=True))
            fn = _cell_call(cell, spec, n, true_mag, seed, last)
            arg = mel
        warm = arg[..., : min(16, arg.shape[-1])]
        fn(warm) if cell != LIB else _librosa_call(spec, None)(warm)  # untimed warm-up
        t0 = time.process_time()
        y = fn(arg)
        row["seconds"] = time.process_time() - t0
        if keep is not None:  # for retime(): the call and its output
            keep[cell] = (fn, arg, np.array(y, copy=True))
        y = np.asarray(y, dtype=np.float32)[..., :n]
        if not np.all(np.isfinite(y)):
            raise MelbenchError("output audio has NaN/Inf")
        row["sc_db"] = sc_fn(true_mag, spec.magnitude(y))
        row["mel_sc_db"], row["logmel_db"] = reference_free(spec, mel, y)
        g = last.get("ctx", {}).get("guard")
        if isinstance(g, dict):
            row["guard"] = (f"{g['chosen']} ({g['criterion']} inner {g['inner']:.2f}, "
                            f"fallback {g['fallback']:.2f}; band roughness "
                            f"{g.get('roughness', math.nan):.2f} dB"
                            + (", smooth mel" if g.get("smooth") else "")
                            + (f", noise-like mel (flatness {g['flatness']:.2f})" if g.get("noisy")
                               else "")
                            + (f", fallback stopped after {g['probe_iter']} iterations (mel_sc "
                               f"{g['probe']:.2f})" if g.get("stopped") else "") + ")")
        if kind == "speech":
            row["pesq_wb"] = _pesq(spec, audio, y)
        if visqol:
            row["visqol_mode"] = visqol_mode(kind)
            try:
                row["visqol"] = _visqol(spec, kind, audio, y)
            except Exception as exc:  # noqa: BLE001 - the metric is missing with its reason
                row["visqol_mode"] += f" (failed: {type(exc).__name__}: {exc})"
    except Exception as exc:  # noqa: BLE001 - recorded in the row, the run goes on
        row["status"], row["error"] = "failed", f"{type(exc).__name__}: {exc}"
    return row


# --------------------------------------------------------------------------- output


def fill_ratios(rows: list[dict[str, Any]]) -> None:
    """Set ``x_librosa`` of every ok row from librosa's row of the same spec, track and clip."""
    lib = {(r["spec"], r["track"], r["clip"]): r["seconds"] for r in rows
           if r["cell"] == LIB and r["status"] == "ok"}
    for r in rows:
        t = lib.get((r["spec"], r["track"], r["clip"]))
        ok = r["status"] == "ok" and t is not None and t > 0
        r["x_librosa"] = r["seconds"] / t if ok else math.nan


def _read_done(csv_path: Path) -> list[dict[str, Any]]:
    if not csv_path.is_file():
        return []
    from .. import quality

    try:
        rows = quality.read_table(csv_path)
    except (ParameterError, OSError, csv.Error) as exc:
        print(f"melbench bench pipelines: not resuming from {csv_path}: {exc}", file=sys.stderr)
        return []
    for r in rows:
        r["x_librosa"] = float(r["x_librosa"]) if r.get("x_librosa") else math.nan
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write ``results/bench_pipelines.{md,csv,png}``."""
    from ..results import atomic_write_bytes

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="melbench bench pipelines",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example: melbench bench pipelines --specs speech16k tts22k")
    p.add_argument("--specs", nargs="+", default=list(SPECS), help="spec presets")
    p.add_argument("--cells", nargs="+", default=list(CELLS),
                   help="cells INVERTER[:N]+PHASE[:N] (librosa mel_to_audio is always added)")
    p.add_argument("--tracks", nargs="+", default=list(TRACKS), choices=list(TRACKS),
                   help="clean and degraded mels")
    p.add_argument("--degraded-cells", nargs="*", default=list(DEGRADED_CELLS),
                   help="cells also run on the degraded tracks (default: nnls+fgla:100, "
                   "joint_fgla:300+fgla:32 and three guarded cells); only these can be "
                   "chosen as balanced/best")
    p.add_argument("--clips", nargs="*", default=list(CLIPS),
                   help=f"clip ids (default: {' '.join(CLIPS)}; none given: all bundled + synthetic)")
    p.add_argument("--no-synthetic", action="store_true", help="leave out the synthetic signals")
    p.add_argument("--crop", type=float, default=2.5,
                   help="keep the first SECONDS of each clip (default 2.5; 0: whole clips)")
    p.add_argument("--seed", type=int, default=0, help="seed of phases and degradations")
    p.add_argument("--visqol", choices=("auto", "off"), default="auto",
                   help="ViSQOL MOS-LQO (speech mode for speech, audio mode otherwise): 'auto' "
                   "measures it where visqol-python is installed (the eval-metrics extra)")
    p.add_argument("--visqol-tracks", nargs="*", default=["clean"], choices=list(TRACKS),
                   help="tracks ViSQOL is measured on (default: clean; about 1 s per row)")
    p.add_argument("--timing-repeat", type=int, default=1, metavar="N",
                   help="on the clean track, time every call (librosa's too) N times, the clip's cells "
                   "in turn, and keep the minimum (default 1); the repeats must give identical audio")
    p.add_argument("--fresh", action="store_true", help="do not resume from an existing CSV")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes, one spec each at a time (CPU times and librosa ratios "
                   "stay within one process; rows are saved as each spec finishes)")
    p.add_argument("--out", default="results/bench_pipelines", help="output path without suffix")
    args = p.parse_args(argv)
    if args.timing_repeat < 1:
        p.error(f"--timing-repeat {args.timing_repeat}: must be at least 1")
    out = Path(args.out)
    csv_path, md_path, png_path = (out.with_suffix(s) for s in (".csv", ".md", ".png"))
    try:
        for c in args.cells:
            parse_cell(c)
    except MelbenchError as exc:
        print(f"melbench bench pipelines: {exc}", file=sys.stderr)
        return 2
    rows = [] if args.fresh else _read_done(csv_path)
    done = {(r["spec"], r["track"], r["clip"], r["cell"]) for r in rows}
    if done:
        print(f"resuming: {len(done)} rows already in {csv_path}", file=sys.stderr)
    csv_path.parent.mkdir(parents=True, exist_ok=True)

    order = {s: i for i, s in enumerate(args.specs)}

    def save(new_rows: list[dict]) -> None:
        rows.extend(new_rows)
        rows.sort(key=lambda r: order.get(r["spec"], len(order)))  # stable: specs in --specs order
        fill_ratios(rows)
        atomic_write_bytes(csv_path, _csv_text(rows).encode())

    why_not = visqol_available() if args.visqol == "auto" else "--visqol off"
    if why_not:
        print(f"melbench bench pipelines: ViSQOL not measured: {why_not}", file=sys.stderr)
    kw = dict(clip_ids=args.clips or None, synthetic=not args.no_synthetic, crop=args.crop,
              seed=args.seed, degraded_cells=args.degraded_cells, done=done,
              visqol_tracks=() if why_not else tuple(args.visqol_tracks),
              timing_repeat=args.timing_repeat)
    if args.jobs > 1 and len(args.specs) > 1:
        import concurrent.futures as cf
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no inherited numba/OpenMP thread state
        with cf.ProcessPoolExecutor(min(args.jobs, len(args.specs)), mp_context=ctx) as pool:
            futs = {pool.submit(run, [s], list(args.cells), list(args.tracks), **kw): s
                    for s in args.specs}
            for f in cf.as_completed(futs):
                save(f.result())
                print(f"{futs[f]}: done", file=sys.stderr)
    else:
        run(args.specs, list(args.cells), list(args.tracks), on_clip=save, **kw)
    # a side table (another --out) checks the targets on the shipped default, if it measured it
    shipped = None
    if Path(args.out).resolve() != (Path(__file__).resolve().parents[2] / "results"
                                    / "bench_pipelines"):
        from .. import quality

        label = quality.preset().label
        shipped = label if any(r["cell"] == label for r in rows) else None
    atomic_write_bytes(md_path, to_markdown(rows, argv, default=shipped).encode())
    try:
        pareto_plot(rows, png_path)
    except Exception as exc:  # noqa: BLE001 - the tables are written; the plot is extra
        print(f"melbench bench pipelines: plot failed: {exc}", file=sys.stderr)
    print(f"wrote {md_path}, {csv_path}, {png_path}")
    return 0
