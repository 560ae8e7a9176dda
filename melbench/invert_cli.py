"""``melbench invert INPUT -o OUTPUT``: mel files (.npy/.pt) -> wav files.

Each file goes through the same pipeline as a ``melbench run`` cell
(:func:`melbench.pipeline.run_clip`), so a file inverted here gives the same
audio as the run with the same spec, inverter, phase retriever and seed, and
errors are reported the same way. One bad file does not stop a folder; the
exit status is 1 if any file failed (with a summary), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
defaults:
  --inverter/--phase default to the best registered pair: nnls + fgla when the nnls
  inverter is installed, else pinv + fgla (see `melbench list`).

examples:
  melbench invert mel.npy -o out.wav --spec tts22k
  melbench invert mels/ -o wavs/ --spec tts22k --phase fgla --phase-param n_iter=200
  melbench invert mels/ -o wavs/ --spec my_spec.yaml --inverter pinv --transpose

spec files are YAML/JSON mappings of FeatureSpec fields, optionally based on a
preset: {preset: tts22k, fmax: 11025}; a run's .hydra/config.yaml also works.
exit status: 0 all files converted, 1 some failed, 2 bad arguments.
"""


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``melbench invert``."""
    p = argparse.ArgumentParser(
        prog="melbench invert",
        description="Turn mel spectrogram files (.npy, or .pt with torch) into wav files. "
        "Each mel must be (n_mels, frames) as the spec describes it (same rate, hop, bands, "
        "power, compression).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="a mel file (.npy/.pt) or a folder of them (searched recursively)")
    p.add_argument("-o", "--output", required=True,
                   help="output .wav file (single input) or folder (mirrors the input's layout)")
    p.add_argument("--spec", default="speech16k",
                   help="spec preset name (e.g. tts22k, speech16k, librosa) or a YAML/JSON spec "
                   "file (default: speech16k)")
    p.add_argument("--spec-param", action="append", metavar="KEY=VALUE",
                   help="override a spec field, e.g. --spec-param fmax=11025 (repeatable)")
    p.add_argument("--inverter", default=None,
                   help="inverter name (default: nnls if available, else pinv)")
    p.add_argument("--inverter-param", action="append", metavar="KEY=VALUE",
                   help="inverter parameter, e.g. --inverter-param max_iter=200 (repeatable)")
    p.add_argument("--phase", default=None, help="phase retriever name (default: fgla)")
    p.add_argument("--phase-param", action="append", metavar="KEY=VALUE",
                   help="phase retriever parameter, e.g. --phase-param n_iter=200 (repeatable)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of random phase initialisation (same as `melbench run seed=`)")
    p.add_argument("--transpose", action="store_true",
                   help="files hold (frames, n_mels): swap axes on load")
    p.add_argument("--subtype", default="FLOAT",
                   help="soundfile subtype of the wavs: FLOAT (default, no clipping), PCM_16, PCM_24")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="worker processes for a folder (default 0: all cores); 1 = one process. "
                   "Each worker runs one BLAS/numba thread")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _output_path(src: Path, base: Path, out: Path, single: bool) -> Path:
    if single and out.suffix.lower() == ".wav":
        return out
    rel = src.name if single else src.relative_to(base)
    return out / Path(rel).with_suffix(".wav")


def main(argv: list[str] | None = None) -> int:
    """Run ``melbench invert``; returns the exit status."""
    import soundfile as sf

    from .api import default_cell, make_plugin, resolve_spec
    from .datasets.mels import MEL_EXTENSIONS, find_mel_files
    from .errors import MelbenchError

    args = build_parser().parse_args(argv)

    def usage_error(msg: str) -> int:
        print(f"melbench invert: error: {msg}", file=sys.stderr)
        return 2

    try:
        spec = resolve_spec(args.spec, **parse_kv(args.spec_param, "--spec-param"))
        inv_name, ph_name = default_cell()
        inverter = make_plugin("inverter", args.inverter or inv_name,
                               parse_kv(args.inverter_param, "--inverter-param"))
        phase = make_plugin("phase", args.phase or ph_name, parse_kv(args.phase_param, "--phase-param"))
        if args.subtype.upper() not in sf.available_subtypes("WAV"):
            raise ValueError(f"--subtype {args.subtype!r} is not a WAV subtype; "
                             f"choose from {', '.join(sorted(sf.available_subtypes('WAV')))}")
    except (MelbenchError, ValueError, TypeError) as exc:
        return usage_error(str(exc))

    src = Path(args.input).expanduser()
    out = Path(args.output).expanduser()
    if not src.exists():
        return usage_error(f"input {src} does not exist")
    single = src.is_file()
    files = find_mel_files(src)
    if not files:
        return usage_error(f"no mel files ({', '.join(MEL_EXTENSIONS)}) under {src}")
    base = src.parent if single else src
    if not single and out.suffix.lower() == ".wav":
        return usage_error(f"input {src} is a folder: -o must be a folder, not {out}")

    print(f"melbench invert: {len(files)} file(s), spec {spec}, {inverter.label} / {phase.label}",
          file=sys.stderr)
    from .batch import FileJob, convert_files, worker_memory

    if args.jobs < 0:
        return usage_error(f"--jobs {args.jobs}: give a number of processes >= 1 (0: all cores)")
    work = [FileJob(f, _output_path(f, base, out, single), str(f.relative_to(base).with_suffix("")),
                    transpose=args.transpose, subtype=args.subtype) for f in files]
    results = convert_files(work, spec, inverter, phase, seed=args.seed, jobs=args.jobs,
                            progress=not (args.quiet or single),
                            note=lambda m: print(f"melbench invert: {m}", file=sys.stderr))
    failed = [(r.src, r.error) for r in results if r.error]
    n_clipped = sum(r.clipped for r in results)
    rss = worker_memory(results)
    if len(rss) > 1:
        print(f"melbench invert: {len(rss)} worker processes, peak memory per worker "
              f"{max(rss.values()):.0f} MiB", file=sys.stderr)

    n_ok = len(files) - len(failed)
    where = out if not single or out.suffix.lower() != ".wav" else out.parent
    print(f"melbench invert: {n_ok}/{len(files)} converted -> {where}", file=sys.stderr)
    if n_clipped:
        print(f"melbench invert: warning: {n_clipped} file(s) exceed full scale and were clipped "
              f"by --subtype {args.subtype}; use --subtype FLOAT to keep them", file=sys.stderr)
    if failed:
        print(f"melbench invert: {len(failed)} file(s) failed:", file=sys.stderr)
        for f, why in failed:
            print(f"  {f}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
