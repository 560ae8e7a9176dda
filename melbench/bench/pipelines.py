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
  warm-up on the clip's first frames; CPU time, because the machine is shared
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
import io
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import registry
from ..errors import MelbenchError, ParameterError
from ..spec import FeatureSpec, get_spec

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
    "joint_fgla:300:ratio_steps=2:restarts=1+fgla:32",
    "guarded:200+fgla:32",
    "guarded:260+fgla:32",
    "guarded:300+fgla:32",
    "oracle+fgla:100",
)
#: Cells also run on the degraded tracks (the robustness comparison; the others cannot
#: be chosen as ``balanced``/``best``, see :mod:`melbench.quality`).
DEGRADED_CELLS = ("nnls+fgla:100", "joint_fgla:300+fgla:32", "guarded:200+fgla:32",
                  "guarded:260+fgla:32", "guarded:300+fgla:32")
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
#: Iteration parameter of inverters whose is not ``n_iter`` (what a bare count sets).
INVERTER_COUNTERS = {"nnls": "max_iter", "joint_fgla": "joint_iter", "guarded": "inner_iter"}
FIELDS = ("spec", "track", "clip", "kind", "cell", "inverter", "inverter_params", "phase",
          "phase_params", "seconds", "x_librosa", "pesq_wb", "sc_db", "visqol", "visqol_mode",
          "mel_sc_db", "logmel_db", "guard", "status", "error")


def parse_cell(text: str) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """``"joint_fgla:300+fgla:100"`` -> ``(inverter, params, phase, params)``.

    Each side is a chain step (``NAME[:N][:KEY=VALUE]...``,
    :func:`melbench.phase.chain.parse_step`); a bare count sets the plugin's iteration
    parameter (``n_iter`` for the phase retrievers and ``nnls_consistent``, see
    :data:`INVERTER_COUNTERS` for the others); ``chain=a>b`` is a chain of phase steps.
    """
    from ..phase.chain import parse_step

    left, sep, right = text.partition("+")
    if not sep or not left.strip() or not right.strip():
        raise ParameterError(f"cell {text!r}: expected INVERTER+PHASE, e.g. joint_fgla:300+fgla:100")
    inv, inv_params = parse_step(left.strip())
    if "n_iter" in inv_params and inv in INVERTER_COUNTERS:
        inv_params[INVERTER_COUNTERS[inv]] = inv_params.pop("n_iter")
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
        x = ph(target, spec, init=ctx.get("phase_init"), rng=seed)
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
        visqol_tracks: tuple[str, ...] = (), log=print) -> list[dict[str, Any]]:
    """Measure every (spec, track, clip, cell) and librosa; return the rows.

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
                    for cell in todo:
                        if (spec_name, track, clip_id, cell) in done:
                            continue
                        row = _measure(cell, spec, spec_name, track, clip_id, kind, audio, true_mag,
                                       mel, seed, spectral_convergence_db,
                                       visqol=track in visqol_tracks)
                        clip_rows.append(row)
                        log(f"{spec_name:9s} {track:8s} {clip_id[:24]:24s} {cell:34s} "
                            f"{row['seconds']:7.3f} s  PESQ {row['pesq_wb']:5.2f}  SC {row['sc_db']:7.2f}"
                            f"  ViSQOL {row['visqol']:5.2f}  melSC {row['mel_sc_db']:7.2f}"
                            + (f"  {row['guard']}" if row["guard"] else "")
                            + (f"  {row['error']}" if row["error"] else ""))
                    rows.extend(clip_rows)
                    if on_clip is not None and clip_rows:
                        on_clip(clip_rows)
    return rows


LIB = "librosa"


def visqol_mode(kind: str) -> str:
    """ViSQOL's mode for a clip kind: speech mode for speech, audio mode for the rest."""
    return "speech" if kind == "speech" else "audio"


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
             visqol: bool = False):
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
                            + (", smooth mel" if g.get("smooth") else "") + ")")
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


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) and not math.isnan(r[k])
                        else ("" if isinstance(r[k], float) else r[k])) for k in FIELDS})
    return buf.getvalue()


def _f(v: float, fmt: str = ".2f") -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _means(rows, spec, track, kind, cell, key):
    v = [r.get(key, math.nan) for r in rows if r["spec"] == spec and r["track"] == track
         and r["kind"] == kind and r["cell"] == cell and r["status"] == "ok"]
    v = [x for x in v if not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


def _visqol_note(rows: list[dict[str, Any]]) -> str:
    modes = sorted({r["visqol_mode"] for r in rows if not math.isnan(r.get("visqol", math.nan))})
    tracks = sorted({r["track"] for r in rows if not math.isnan(r.get("visqol", math.nan))})
    if not modes:
        return ("ViSQOL: not measured in this run (visqol-python not installed, or --visqol off).")
    return (f"ViSQOL = MOS-LQO of visqol-python (`melbench.metrics.visqol`; speech mode for speech "
            f"clips, audio mode for music and synthetic ones; modes used: {', '.join(modes)}) on "
            f"the {', '.join(tracks)} track(s).")


def worst_cases(rows: list[dict[str, Any]], cell: str, n: int = 5) -> list[str]:
    """The ``n`` (spec, track, clip) pairs where ``cell`` loses most to the reference.

    Ordered by the loss in units of issue 16's bounds (SC loss / 0.3 dB, PESQ loss / 0.05).
    """
    from .. import quality

    ok = {(r["spec"], r["track"], r["clip"], r["cell"]): r for r in rows if r["status"] == "ok"}
    out = []
    for (s_, t_, c_, name), r in ok.items():
        ref = ok.get((s_, t_, c_, quality.REFERENCE_CELL))
        if name != cell or ref is None:
            continue
        dsc, dp = r["sc_db"] - ref["sc_db"], ref["pesq_wb"] - r["pesq_wb"]
        loss = max(dsc / quality.ISSUE_SC_DB, 0.0 if math.isnan(dp) else dp / quality.ISSUE_PESQ)
        out.append((loss, f"{s_}/{t_}/{c_} ({dsc:+.2f} dB" + ("" if math.isnan(dp) else f", {dp:+.3f}")
                    + ")"))
    return [t for _, t in sorted(out, key=lambda x: -x[0])[:n]]


def criterion_agreement(rows: list[dict[str, Any]], key: str, min_db: float = 0.3) -> tuple[int, int]:
    """How often a reference-free criterion orders two outputs as their true-magnitude SC does.

    Over every (spec, track, clip) and every pair of cells measured there (librosa and the
    oracle left out) whose SC differs by more than ``min_db``: ``(agreeing pairs, pairs)``,
    agreeing when the output with the lower SC also has the lower ``key`` (``mel_sc_db`` or
    ``logmel_db``).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if (r["status"] == "ok" and r["cell"] != LIB and not r["cell"].startswith("oracle")
                and not math.isnan(r.get(key, math.nan))):
            groups.setdefault((r["spec"], r["track"], r["clip"]), []).append(r)
    agree = total = 0
    for g in groups.values():
        for i, a in enumerate(g):
            for b in g[i + 1:]:
                d_true = a["sc_db"] - b["sc_db"]
                if abs(d_true) <= min_db:
                    continue
                total += 1
                agree += (d_true > 0) == (a[key] - b[key] > 0)
    return agree, total


def guard_section(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: how well each guard criterion predicts the SC ordering; what the guards chose."""
    L = ["", "## Guard: reference-free criteria (`melbench.inverters.guarded`)", "",
         "Each output's audio mel against the given (possibly degraded) mel, no reference needed: "
         "`mel_sc` = mel spectral convergence (dB), `logmel` = mean absolute dB difference. "
         "Agreement = share of the pairs of outputs of one (spec, track, clip) whose true-magnitude "
         "SC differs by more than 0.3 dB that the criterion orders the same way (librosa and the "
         "oracle left out; on the cells' final outputs, the guard itself compares its two "
         "candidates before the phase stage).", "",
         "| criterion | agreeing pairs | pairs | agreement |", "|---|---|---|---|"]
    for key, name in (("mel_sc_db", "mel_sc"), ("logmel_db", "logmel")):
        a, n = criterion_agreement(rows, key)
        L.append(f"| `{name}` | {a} | {n} | {_f(100.0 * a / n if n else math.nan, '.1f')} % |")
    guarded = [r for r in rows if r["status"] == "ok" and r.get("guard")]
    for cell in dict.fromkeys(r["cell"] for r in guarded):
        g = [r for r in guarded if r["cell"] == cell]
        fb = [f"{r['spec']}/{r['track']}/{r['clip']}" for r in g if r["guard"].startswith("fallback")]
        L += ["", f"`{cell}` kept the fallback (`nnls` + `fgla`) on {len(fb)} of {len(g)} rows"
              + (": " + ", ".join(fb) if fb else "") + "."]
    return L


def to_markdown(rows: list[dict[str, Any]], argv: list[str]) -> str:
    """The results page: targets, presets chosen, means per spec/track/kind, robustness."""
    from .. import quality

    specs = list(dict.fromkeys(r["spec"] for r in rows))
    tracks = list(dict.fromkeys(r["track"] for r in rows))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    picks = quality.choose(rows)
    summ = quality.summarize(rows)
    default = picks[quality.DEFAULT_QUALITY].label
    if default == quality.FALLBACK.label:  # this table chooses nothing: check the shipped default
        default = quality.preset().label
    L = [
        "# Mel -> audio pipelines (`melbench bench pipelines`)", "",
        f"Command: `melbench bench pipelines {' '.join(argv)}`. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared 2-core machine.",
        "",
        "Seconds = CPU time of the whole mel -> audio call on one thread (after an untimed warm-up); "
        "x librosa = that over librosa `mel_to_audio`'s CPU time on the same clip and track in the "
        "same run. PESQ-wb at 16 kHz (speech clips). SC = spectral convergence of the output audio's "
        "STFT magnitude against the true magnitude (dB, lower is better). Cells are "
        "`INVERTER[:N]+PHASE[:N]`; `joint_fgla` and `guarded` hand their phase to the phase retriever "
        "as warm start. " + _visqol_note(rows), "",
        "## Quality presets chosen from this table (`melbench.quality`)", "",
        "| quality | cell | why |", "|---|---|---|",
    ]
    for q in quality.QUALITIES:
        star = " (default)" if q == quality.DEFAULT_QUALITY else ""
        L.append(f"| {q}{star} | `{picks[q].label}` | {picks[q].reason} |")
    L += ["", f"Rules (`melbench.quality`, over the clean speech rows of every spec): best = the "
          f"highest mean PESQ-wb among the robust cells with mean x librosa <= 1; balanced = the "
          f"fastest robust cell within {quality.BALANCED_MARGIN} PESQ of best; fast = the fastest "
          f"cell with mean PESQ-wb >= librosa's. Robust = measured on every (spec, track, clip) "
          f"of `{quality.REFERENCE_CELL}` and nowhere more than {quality.ROBUST_PESQ} PESQ or "
          f"{quality.ROBUST_SC_DB} dB SC worse than it (issue 16's bounds). If no cell within the "
          "time bound is robust, best and balanced are the least-bad complete cell (smallest worst "
          "loss in units of the bounds) and their reasons say so. "
          + quality.metrics_statement(rows) + " Rerunning the benchmark rewrites the CSV and so "
          "the choice.", "", "## Targets (issue 16)", ""]
    sp = [r for r in rows if r["track"] == "clean" and r["kind"] == "speech" and r["status"] == "ok"]
    for s in specs:
        d = _means(rows, s, "clean", "speech", default, "pesq_wb")
        lib = _means(rows, s, "clean", "speech", LIB, "pesq_wb")
        rs = [r["x_librosa"] for r in sp if r["spec"] == s and r["cell"] == default]
        L.append(f"- {s}: default `{default}` mean PESQ-wb on speech {_f(d)} (target >= 3.8: "
                 f"{'met' if d >= 3.8 else 'NOT met'}); librosa {_f(lib)}; time x librosa per clip "
                 f"max {_f(max(rs) if rs else math.nan)} (target <= 1: "
                 f"{'met' if rs and max(rs) <= 1 else 'NOT met'})")
        mus = [r for r in rows if r["spec"] == s and r["track"] == "clean" and r["kind"] == "music"
               and r["status"] == "ok"]
        if mus:
            best_m = min(mus, key=lambda r: r["sc_db"] if not r["cell"].startswith("oracle") else 1e9)
            dm = next((r["sc_db"] for r in mus if r["cell"] == default), math.nan)
            L.append(f"- {s}: music SC, default {_f(dm)} dB, best non-oracle `{best_m['cell']}` "
                     f"{_f(best_m['sc_db'])} dB (target <= -17: "
                     f"{'met' if best_m['sc_db'] <= -17 else 'NOT met'})")
    ok = {(r["spec"], r["track"], r["clip"], r["cell"]): r for r in rows if r["status"] == "ok"}
    bad = []
    n_cmp = 0
    for (s_, t_, c_, cell), r in ok.items():
        ref = ok.get((s_, t_, c_, quality.REFERENCE_CELL))
        if cell != default or ref is None:
            continue
        n_cmp += 1
        dsc, dp = r["sc_db"] - ref["sc_db"], ref["pesq_wb"] - r["pesq_wb"]
        if dsc > quality.ISSUE_SC_DB or (not math.isnan(dp) and dp > quality.ISSUE_PESQ):
            bad.append(f"{s_}/{t_}/{c_} (SC {r['sc_db']:.2f} vs {ref['sc_db']:.2f} dB"
                       + (f", PESQ {r['pesq_wb']:.2f} vs {ref['pesq_wb']:.2f}" if not math.isnan(dp)
                          else "") + ")")
    L.append(f"- robustness of the default against `{quality.REFERENCE_CELL}` on {n_cmp} (spec, "
             f"track, clip) pairs, issue bounds {quality.ISSUE_SC_DB} dB SC / {quality.ISSUE_PESQ} "
             f"PESQ: " + ("met" if not bad else f"NOT met on {len(bad)}: " + "; ".join(bad)))
    worst = worst_cases(rows, default)
    if worst:
        L.append("- the default's five worst cases against the reference (SC loss dB, PESQ loss; "
                 "negative = better than the reference): " + "; ".join(worst))
    L += ["", "## Cells over all specs (clean speech; robustness over every track)", "",
          "| cell | mean PESQ-wb | mean ViSQOL (clean) | mean x librosa | mean s | worst PESQ loss "
          "vs ref | worst SC loss vs ref (dB) | pairs over the bounds | robust |",
          "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        v = summ.get(c)
        if v:
            L.append(f"| `{c}` | {_f(v['pesq'])} | {_f(v['visqol'])} | {_f(v['ratio'])} | "
                     f"{_f(v['seconds'], '.3f')} | {_f(v['worst_pesq'], '.3f')} | "
                     f"{_f(v['worst_sc'])} | {len(v['fails'])} | {'yes' if v['robust'] else 'no'} |")
    L += guard_section(rows)
    L += ["", "## Means per spec, track and kind", "",
          "| spec | track | kind | cell | PESQ-wb | ViSQOL | SC dB | seconds | x librosa |",
          "|---|---|---|---|---|---|---|---|---|"]
    for s in specs:
        for t in tracks:
            for k in ("speech", "music", "synthetic"):
                for c in cells:
                    sc = _means(rows, s, t, k, c, "sc_db")
                    if math.isnan(sc):
                        continue
                    L.append(f"| {s} | {t} | {k} | `{c}` | {_f(_means(rows, s, t, k, c, 'pesq_wb'))} | "
                             f"{_f(_means(rows, s, t, k, c, 'visqol'))} | {_f(sc)} | "
                             f"{_f(_means(rows, s, t, k, c, 'seconds'), '.3f')} | "
                             f"{_f(_means(rows, s, t, k, c, 'x_librosa'))} |")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        L += ["", "## Failed rows", ""] + [f"- {r['spec']} {r['track']} {r['clip']} `{r['cell']}`: "
                                           f"{r['error']}" for r in failed]
    L += ["", "Per-clip rows: `results/bench_pipelines.csv`; plot: `results/bench_pipelines.png`.", ""]
    return "\n".join(L)


def pareto_plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean PESQ-wb against mean seconds per cell (clean speech), one panel per spec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = list(dict.fromkeys(r["spec"] for r in rows))
    ncols = min(4, len(specs))
    nrows = -(-len(specs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 5 * nrows), squeeze=False)
    for ax in axes.flat[len(specs):]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, specs, strict=False):
        pts = []
        for c in dict.fromkeys(r["cell"] for r in rows):
            p = _means(rows, s, "clean", "speech", c, "pesq_wb")
            t = _means(rows, s, "clean", "speech", c, "seconds")
            if not (math.isnan(p) or math.isnan(t)):
                pts.append((t, p, c))
        front = [q for q in pts if not any(o[0] <= q[0] and o[1] >= q[1] and o != q for o in pts)]
        for t, p, c in pts:
            color = "tab:red" if c == LIB else ("tab:gray" if c.startswith("oracle") else "tab:blue")
            ax.scatter(t, p, color=color, s=40 if (t, p, c) in front else 15)
            ax.annotate(c, (t, p), fontsize=6, xytext=(3, 3), textcoords="offset points")
        fr = sorted((q for q in front if not q[2].startswith("oracle")), key=lambda q: q[0])
        if fr:
            ax.plot([q[0] for q in fr], [q[1] for q in fr], color="tab:blue", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("CPU seconds per clip (one thread, mean)")
        ax.set_ylabel("mean PESQ-wb (speech)")
        ax.set_title(f"{s}: clean mels (red: librosa mel_to_audio; dashed: Pareto front)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..results import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


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
    p.add_argument("--fresh", action="store_true", help="do not resume from an existing CSV")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes, one spec each at a time (CPU times and librosa ratios "
                   "stay within one process; rows are saved as each spec finishes)")
    p.add_argument("--out", default="results/bench_pipelines", help="output path without suffix")
    args = p.parse_args(argv)
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
              visqol_tracks=() if why_not else tuple(args.visqol_tracks))
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
    atomic_write_bytes(md_path, to_markdown(rows, argv).encode())
    try:
        pareto_plot(rows, png_path)
    except Exception as exc:  # noqa: BLE001 - the tables are written; the plot is extra
        print(f"melbench bench pipelines: plot failed: {exc}", file=sys.stderr)
    print(f"wrote {md_path}, {csv_path}, {png_path}")
    return 0
