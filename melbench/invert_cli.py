"""``melbench invert INPUT -o OUTPUT``: mel files (.npy/.npz/.pt) -> audio files.

Each file goes through the same pipeline as a ``melbench run`` cell
(:func:`melbench.pipeline.run_clip`), so a file inverted here gives the same
audio as the run with the same spec, inverter, phase retriever and seed, and
errors are reported the same way. One bad file does not stop a folder; the
exit status is 1 if any file failed (with a summary), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
spec:
  --spec names the convention the mels were made with (a preset, a YAML/JSON spec file).
  Without it, the spec is inferred from the first mel's band count and values when exactly
  one preset fits (the choice is printed); otherwise melbench asks for --spec. Mels whose
  values cannot have been made as declared (a dB mel declared ln, a clipped floor of another
  compression, zero-padded frames, a level beyond full scale) fail with the cause and the fix.
  --ref VALUE sets the reference of a dB mel, e.g. the np.max a power_to_db(S, ref=np.max)
  mel was divided by, which restores its level.

defaults:
  --inverter/--phase not given: the cell of the --quality preset (default best),
  chosen from the committed pipeline benchmark (results/bench_pipelines.md, see
  melbench.quality): fast = fastest cell at least as good as librosa's mel_to_audio,
  best = best robust cell no slower than librosa (robust: never more than 0.3 dB SC or
  0.05 PESQ worse than nnls + fgla on any clip, preset or degraded mel of the table; if
  no cell is, the least-bad, said so in the table), balanced = fastest within 0.05 PESQ
  of best. Falls back to nnls + fgla if the preset's plugins are not installed.

examples:
  melbench invert mel.npy -o out.wav --spec tts22k
  melbench invert mel.npy -o out.wav --spec tts22k --quality best
  melbench invert mel.npy -o out.flac --spec tts22k          # format from the suffix
  melbench invert mel.npy -o - --spec tts22k | aplay          # wav to stdout
  melbench invert batch.npz --key mels -o out/ --spec tts22k  # (batch, n_mels, frames): out/batch_0.wav ...
  melbench invert mels/ -o wavs/ --spec tts22k --phase fgla --phase-param n_iter=200
  melbench invert mels/ -o wavs/ --spec my_spec.yaml --inverter pinv --transpose

inputs are .npy, .npz (--key NAME, unless the archive holds one array) or .pt/.pth files
(torch) of shape (n_mels, frames) or (batch, n_mels, frames); a batch gives one file per
item (<name>_<i>.<ext>). Spec files are YAML/JSON mappings of FeatureSpec fields, optionally
based on a preset: {preset: tts22k, fmax: 11025}; a run's .hydra/config.yaml also works.
exit status: 0 all files converted, 1 some failed, 2 bad arguments.
"""

#: Output formats chosen by the suffix of -o (soundfile format names).
AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}


def parse_kv(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["key=value", ...]`` to a dict; values parsed as YAML scalars/lists (``200``, ``[a,b]``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} {item!r}: expected key=value (e.g. n_iter=200)")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def build_plugin(kind: str, name: str, params: dict[str, Any], option: str) -> Any:
    """A plugin from command-line parameters; a bad value's error names the option and parameter."""
    import dataclasses
    import typing

    from . import registry
    from .api import make_plugin

    try:
        fields = {f.name: f for f in dataclasses.fields(registry.get(kind, name).Params)}
        hints = typing.get_type_hints(registry.get(kind, name).Params)
    except Exception:  # noqa: BLE001 - unknown plugin: make_plugin says so
        fields, hints = {}, {}
    for key, value in params.items():
        tp = hints.get(key)
        if key in fields and tp in (int, float) and not isinstance(value, (int, float)) or (
                tp is int and isinstance(value, float)):
            raise ValueError(
                f"{option} {key}={value!r}: {kind} {name!r} parameter {key!r} must be "
                f"{'an integer' if tp is int else 'a number'} (e.g. {key}={fields[key].default!r})"
            )
    try:
        return make_plugin(kind, name, params)
    except (ValueError, TypeError) as exc:
        if params and not any(k in str(exc) for k in params):
            raise ValueError(f"{option} {params}: {exc}") from None
        raise


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``melbench invert``."""
    p = argparse.ArgumentParser(
        prog="melbench invert",
        description="Turn mel spectrogram files (.npy, .npz, or .pt with torch) into audio files. "
        "Each mel must be (n_mels, frames) (or a batch of them) as the spec describes it (same "
        "rate, hop, framing, bands, power, compression).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="a mel file (.npy/.npz/.pt) or a folder of them (searched recursively)")
    p.add_argument("-o", "--output", required=True,
                   help="output audio file (single input; .wav, .flac, .ogg, .aiff: format from the "
                   "suffix), '-' for a wav on stdout, or a folder (mirrors the input's layout)")
    p.add_argument("--spec", default=None,
                   help="spec preset name (e.g. hifigan_v1, tts22k, speech16k; see the preset table "
                   "in docs/presets.md), a YAML/JSON spec file, or a model's config (HiFi-GAN/BigVGAN "
                   "config.json, ParallelWaveGAN/Vocos yaml); default: inferred from the mel when "
                   "exactly one preset fits")
    p.add_argument("--spec-param", action="append", metavar="KEY=VALUE",
                   help="override a spec field, e.g. --spec-param fmax=11025 (repeatable)")
    p.add_argument("--quality", default=None, choices=["fast", "balanced", "best"],
                   help="preset cell for the plugins not named (default: best; see below)")
    p.add_argument("--ref", type=float, default=None,
                   help="reference of a dB mel (spec.ref), e.g. the np.max a ref=np.max mel was "
                   "divided by: restores its level")
    p.add_argument("--key", default=None,
                   help="name of the mel array in .npz archives (or .pt dicts)")
    p.add_argument("--inverter", default=None,
                   help="inverter name (default: the --quality preset's)")
    p.add_argument("--inverter-param", action="append", metavar="KEY=VALUE",
                   help="inverter parameter, e.g. --inverter-param max_iter=200 (repeatable)")
    p.add_argument("--phase", default=None,
                   help="phase retriever name (default: the --quality preset's)")
    p.add_argument("--phase-param", action="append", metavar="KEY=VALUE",
                   help="phase retriever parameter, e.g. --phase-param n_iter=200 (repeatable)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of random phase initialisation (same as `melbench run seed=`)")
    p.add_argument("--transpose", action="store_true",
                   help="files hold (frames, n_mels): swap axes on load")
    p.add_argument("--subtype", default=None,
                   help="soundfile subtype: FLOAT (default for wav, no clipping), PCM_16, PCM_24 "
                   "(default for flac) ...")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="worker processes for a folder (default 0: all cores); 1 = one process. "
                   "Each worker runs one BLAS/numba thread")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _output_path(src: Path, base: Path, out: Path, single: bool, ext: str) -> Path:
    if single and out.suffix.lower() in AUDIO_FORMATS:
        return out
    rel = src.name if single else src.relative_to(base)
    return out / Path(rel).with_suffix(ext)


def _first_loadable(files: list[Path], args: argparse.Namespace, load: Any, error: type) -> Any:
    """The first mel among ``files`` that loads (to infer the spec from)."""
    first_exc = None
    for f in files:
        try:
            return load(f, transpose=args.transpose, key=args.key, batch=True)
        except error as exc:
            first_exc = first_exc or exc
    raise error(f"no spec given and no mel file loads to infer one from ({first_exc}); pass --spec")


def _item_path(dst: Path, index: int | None) -> Path:
    return dst if index is None else dst.with_name(f"{dst.stem}_{index}{dst.suffix}")


def main(argv: list[str] | None = None) -> int:
    """Run ``melbench invert``; returns the exit status."""
    from .validation import plain_warnings

    with plain_warnings("melbench invert"):
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    import soundfile as sf

    from .api import default_plugins, infer_spec, resolve_spec
    from .datasets.mels import MEL_EXTENSIONS, find_mel_files, load_mel_file, path_problem
    from .errors import InputError, MelbenchError

    args = build_parser().parse_args(argv)

    def usage_error(msg: str) -> int:
        print(f"melbench invert: error: {msg}", file=sys.stderr)
        return 2

    src = Path(args.input).expanduser()
    to_stdout = args.output == "-"
    out = Path(args.output).expanduser()
    problem = path_problem(src, "input")
    if problem:
        return usage_error(problem)
    single = src.is_file()
    files = find_mel_files(src)
    if not files:
        return usage_error(f"no mel files ({', '.join(MEL_EXTENSIONS)}) under {src}")
    if to_stdout and not single:
        return usage_error(f"input {src} is a folder: -o - (stdout) takes one mel file; "
                           "give a folder to -o")
    fmt = "WAV" if to_stdout else AUDIO_FORMATS.get(out.suffix.lower())
    if not single and fmt is not None:
        return usage_error(f"input {src} is a folder: -o must be a folder, not {out}")
    if single and not to_stdout and fmt is None and out.suffix:
        return usage_error(f"-o {out}: unknown audio format {out.suffix!r}; use one of "
                           f"{', '.join(AUDIO_FORMATS)} (or a folder name without a suffix)")
    fmt = fmt or "WAV"
    ext = next(k for k, v in AUDIO_FORMATS.items() if v == fmt) if fmt != "WAV" else ".wav"
    subtype = (args.subtype or ("FLOAT" if fmt == "WAV" else sf.default_subtype(fmt))).upper()
    if not sf.check_format(fmt, subtype):
        return usage_error(f"--subtype {subtype!r} is not a {fmt} subtype; choose from "
                           f"{', '.join(sorted(sf.available_subtypes(fmt)))}")
    try:
        overrides = parse_kv(args.spec_param, "--spec-param")
        if args.ref is not None:
            if not args.ref > 0:
                raise ValueError(f"--ref {args.ref:g}: the reference of a dB mel must be > 0")
            overrides["ref"] = float(args.ref)
        if args.spec is None:
            base, message = infer_spec(_first_loadable(files, args, load_mel_file, InputError))
            print(f"melbench invert: {message}", file=sys.stderr)
            spec = resolve_spec(base, **overrides)
        else:
            spec = resolve_spec(args.spec, **overrides)
        if args.ref is not None and spec.compression != "db":
            raise ValueError(f"--ref {args.ref:g}: the reference applies to dB mels, but spec {spec} "
                             f"is {spec.compression}-compressed")
        (inv_name, inv_p), (ph_name, ph_p) = default_plugins(args.quality)
        inverter = build_plugin("inverter", args.inverter or inv_name,
                                {**({} if args.inverter else inv_p),
                                 **parse_kv(args.inverter_param, "--inverter-param")}, "--inverter-param")
        phase = build_plugin("phase", args.phase or ph_name,
                             {**({} if args.phase else ph_p),
                              **parse_kv(args.phase_param, "--phase-param")}, "--phase-param")
    except (MelbenchError, ValueError, TypeError) as exc:
        return usage_error(str(exc))

    base_dir = src.parent if single else src
    print(f"melbench invert: {len(files)} file(s), spec {spec}, {inverter.label} / {phase.label}",
          file=sys.stderr)
    # issue 18: the files go through melbench.batch (worker processes with --jobs N)
    from .batch import FileJob, convert_files, worker_memory

    if args.jobs < 0:
        return usage_error(f"--jobs {args.jobs}: give a number of processes >= 1 (0: all cores)")
    work = [FileJob(f, None if to_stdout else _output_path(f, base_dir, out, single, ext),
                    str(f.relative_to(base_dir).with_suffix("")), transpose=args.transpose,
                    key=args.key, subtype=subtype, fmt=fmt) for f in files]
    results = convert_files(work, spec, inverter, phase, seed=args.seed, jobs=args.jobs,
                            progress=not (args.quiet or single),
                            note=lambda m: print(f"melbench invert: {m}", file=sys.stderr))
    failed = [fail for r in results for fail in r.failures]
    n_failed_files = sum(1 for r in results if r.failures)
    n_written = sum(r.n_written for r in results)
    n_clipped = sum(r.n_clipped for r in results)
    # the forked workers that did work (under load one worker may take every file)
    rss = {pid: mib for pid, mib in worker_memory(results).items() if pid != os.getpid()}
    if rss:
        print(f"melbench invert: {len(rss)} worker processes, peak memory per worker "
              f"{max(rss.values()):.0f} MiB", file=sys.stderr)

    where = "stdout" if to_stdout else out
    print(f"melbench invert: {len(files) - n_failed_files}/{len(files)} converted "
          f"({n_written} audio file(s)) -> {where}", file=sys.stderr)
    if n_clipped:
        print(f"melbench invert: warning: {n_clipped} file(s) exceed full scale and were clipped "
              f"by --subtype {subtype}; use --subtype FLOAT to keep them", file=sys.stderr)
    if failed:
        print(f"melbench invert: {n_failed_files} file(s) failed:", file=sys.stderr)
        for f, why in failed:
            print(f"  {f}: {why}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
