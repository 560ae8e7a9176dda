"""The joint iteration's cost, before and after a change, side by side in one run.

Run from the repository root::

    .venv/bin/python results/bench_joint_fgla.py [--before 2e1f330] [--repeat 5]
        [--specs speech16k hifigan_v1 bigvgan_24k_100 bigvgan_44k_128 vocos_24k]
        [--clip-specs speech16k narrowband8k hifigan_v1 bigvgan_24k_100 bigvgan_44k_128 vocos_24k]

Writes ``results/bench_joint_fgla.md``. Two worker processes run at once and are asked in
turn, round after round: "before" imports melbench from ``git archive BEFORE`` (the code
before the change, unpacked into a temporary directory), "after" the working tree's. Both
use this venv, one thread (threadpoolctl, scipy.fft workers=1) and CPU time
(``time.process_time``; the machine is shared). Medians over the rounds.

Per spec, on the bundled ``allison_tt-allbusy`` clip (whole, 3.6 s; the clip of the
largest ratio to librosa in ``results/bench_pipelines.md``):

* FFT floor: one ``irfft`` + ``rfft`` pair over all frames (the least an iteration of any
  consistency-based method can cost) and ``Projector.project`` (the pair plus overlap-add,
  normalisation, padding refill and re-framing);
* ``_k_joint``, the ``P_mel`` + momentum kernel, with 3 mel steps (an iteration) and with
  100 (a ``final_steps`` call), the copy of its input subtracted;
* one ``joint_fgla`` iteration (``joint_fgla_inverse`` over 100 iterations / 100);
* the whole default cell (``melbench.invert``) and librosa ``mel_to_audio`` (as
  ``melbench bench pipelines`` calls it: 32 Griffin-Lim iterations, seeded).

Per clip (``--clip-specs``; the pipeline benchmark's five clips, first 2.5 s, clean mel):
the default cell ``guarded:200:inner=joint_tcr+fgla:0`` and librosa exactly as
``melbench bench pipelines`` times them (its own functions, after a warm-up), each
worker's cell over the mean of the two workers' librosa calls of the same round, and
whether the two workers' output audio is identical (SHA-256 of the samples).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

CELL = "guarded:200:inner=joint_tcr+fgla:0"
SPECS = ["speech16k", "hifigan_v1", "bigvgan_24k_100", "bigvgan_44k_128", "vocos_24k"]
CLIP_SPECS = ["speech16k", "narrowband8k", "hifigan_v1", "bigvgan_24k_100", "bigvgan_44k_128",
              "vocos_24k"]
PARTS = ["FFT floor (irfft + rfft pair)", "Projector.project", "_k_joint, 3 mel steps",
         "_k_joint, 100 mel steps", "joint_fgla iteration (3 mel steps)",
         "default cell (melbench.invert)", "librosa mel_to_audio"]


# --------------------------------------------------------------------------- worker side
def _cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


class _Worker:
    """Measurements of one melbench (the one on ``sys.path``), asked over stdin/stdout."""

    def __init__(self) -> None:
        from threadpoolctl import threadpool_limits

        self._limit = threadpool_limits(1)
        self._parts: dict[str, dict] = {}
        self._clips: dict[tuple[str, str], tuple] = {}

    def parts(self, spec_name: str) -> dict[str, float]:
        """One round of the per-spec rows (CPU seconds), after a first untimed round."""
        import scipy.fft

        import melbench
        from melbench.bench.pipelines import _librosa_call
        from melbench.datasets.bundled import Bundled
        from melbench.inverters import joint_fgla as J
        from melbench.spec import get_spec
        from melbench.stft import Projector

        if spec_name not in self._parts:
            spec = get_spec(spec_name)
            y = np.ascontiguousarray(next(Bundled(ids=["allison_tt-allbusy"]).clips(spec)).audio,
                                     dtype=np.float32)
            mag = spec.magnitude(y)
            mel = np.ascontiguousarray(spec.mel_from_magnitude(mag), dtype=np.float32)
            proj = Projector.from_spec(spec, mel.shape[-1], dtype=np.float32)
            c = proj.to_internal(mag.astype(np.complex64), np.complex64)
            t0 = proj.project(c.copy(), overwrite=True)[0]  # a consistent estimate
            ops = J._joint_operators(spec, np.dtype(np.float32).str, False)
            bufs = [np.empty(t0.shape, np.float32) for _ in range(3)]
            xp = (0.5 * t0[::-1]).copy()
            al, power = np.float32(0.99), int(spec.power)

            def floor():
                fr = scipy.fft.irfft(c, n=spec.n_fft, axis=-1, workers=1)
                scipy.fft.rfft(fr, axis=-1, workers=1, overwrite_x=True)

            fns = {
                PARTS[0]: floor,
                PARTS[1]: lambda: proj.project(c.copy(), overwrite=True),
                PARTS[2]: lambda: J._k_joint(t0.copy(), xp.copy(), *bufs[:2], *ops, mel, 3, power,
                                             al, False, bufs[2], False, False),
                PARTS[3]: lambda: J._k_joint(t0.copy(), xp.copy(), *bufs[:2], *ops, mel, 100,
                                             power, al, True, bufs[2], True, False),
                PARTS[4]: lambda: J.joint_fgla_inverse(mel, spec, n_iter=100, final_steps=0),
                PARTS[5]: lambda: melbench.invert(mel, spec=spec, length=y.size),
                PARTS[6]: lambda: _librosa_call(spec, y.size)(spec.decompress(mel)),
            }
            def copy():
                return t0.copy(), xp.copy()
            for fn in fns.values():
                fn()  # compile / warm up
            self._parts[spec_name] = {"fns": fns, "copy": copy}
        d = self._parts[spec_name]
        out = {k: _cpu(fn) for k, fn in d["fns"].items()}
        cp = min(_cpu(d["copy"]) for _ in range(3))  # the kernels' input copies
        out[PARTS[1]] -= cp / 2
        out[PARTS[2]] -= cp
        out[PARTS[3]] -= cp
        out[PARTS[4]] /= 100
        return out

    def clip(self, spec_name: str, clip_id: str) -> dict:
        """One round of the per-clip rows: cell and librosa seconds, the output's hash."""
        from melbench.bench.pipelines import _cell_call, _librosa_call, clips_for
        from melbench.spec import get_spec

        key = (spec_name, clip_id)
        if key not in self._clips:
            spec = get_spec(spec_name)
            (_, _, audio), = clips_for(spec, [clip_id], clip_id.startswith("synthetic_"), 2.5)
            true_mag = spec.magnitude(audio)
            mel = spec.mel_from_magnitude(true_mag)
            n = audio.shape[-1]
            cell = _cell_call(CELL, spec, n, true_mag, 0)
            lib = _librosa_call(spec, n, 0)
            lin = spec.decompress(mel)
            cell(mel[..., :16])  # the warm-ups of the pipeline benchmark
            _librosa_call(spec, None)(lin[..., :16])
            self._clips[key] = (cell, lib, mel, lin)
        cell, lib, mel, lin = self._clips[key]
        t0 = time.process_time()
        y = cell(mel)
        sec = time.process_time() - t0
        lib_sec = _cpu(lambda: lib(lin))
        digest = hashlib.sha256(np.ascontiguousarray(y, dtype=np.float32).tobytes()).hexdigest()
        return {"cell": sec, "librosa": lib_sec, "sha": digest[:16]}


def _serve() -> int:
    w = _Worker()
    for line in sys.stdin:
        req = json.loads(line)
        res = w.parts(req["spec"]) if req["op"] == "parts" else w.clip(req["spec"], req["clip"])
        print(json.dumps(res), flush=True)
    return 0


# --------------------------------------------------------------------------- driver side
class _Proc:
    def __init__(self, pythonpath: str | None) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        self.p = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env,
                                  cwd=pythonpath or Path(__file__).resolve().parents[1])

    def ask(self, **req) -> dict:
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died on {req}")
        return json.loads(line)

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=60)


def _unpack(ref: str, into: str) -> None:
    """``git archive`` of the package, its shipped data and the table its default comes from."""
    data = subprocess.run(["git", "archive", "--format=tar", ref, "melbench", "datasets",
                           "results/bench_pipelines.csv"], check=True,
                          capture_output=True).stdout
    tmp = Path(into) / "src.tar"
    tmp.write_bytes(data)
    with tarfile.open(tmp) as tf:
        tf.extractall(into, filter="data")
    tmp.unlink()


def main(argv: list[str] | None = None) -> int:
    """Run both workers round by round and write the table (``--out``)."""
    from melbench.bench.pipelines import CLIPS
    from melbench.results import atomic_write_bytes

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", default="2e1f330", help="git ref of the code before (default: "
                   "the sixth round's main, 2e1f330)")
    p.add_argument("--specs", nargs="+", default=SPECS)
    p.add_argument("--clip-specs", nargs="*", default=CLIP_SPECS)
    p.add_argument("--repeat", type=int, default=5, help="rounds per row (medians)")
    p.add_argument("--out", default="results/bench_joint_fgla.md")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _serve()
    rev = subprocess.run(["git", "rev-parse", "--short", args.before], check=True,
                         capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "melbench"], check=True,
                           capture_output=True, text=True).stdout.strip()
    load0 = os.getloadavg()
    lines = ["# The joint iteration's cost: before and after, side by side in one run", "",
             "Command: `.venv/bin/python results/bench_joint_fgla.py"
             + "".join(" " + a for a in (sys.argv[1:] if argv is None else argv)) + "`", "",
             f"Before: melbench at `{rev}`; after: the working tree at `{head}`"
             + (" (with uncommitted changes)" if dirty else "") + ". "
             f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy "
             f"{np.__version__}; shared 2-core machine (load average at the start "
             f"{load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}), one thread, CPU time, median "
             f"of {args.repeat} rounds; the two workers are asked in turn within each round.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        _unpack(rev, tmp)
        before, after = _Proc(tmp), _Proc(None)
        try:
            lines += ["## Per spec (bundled allison_tt-allbusy, whole clip)", "",
                      "x floor: against the FFT floor of the same worker; after / before: the "
                      "median of the per-round ratios.", ""]
            for name in args.specs:
                rb, ra = [], []
                for _ in range(args.repeat):
                    rb.append(before.ask(op="parts", spec=name))
                    ra.append(after.ask(op="parts", spec=name))
                lines += [f"### {name}", "",
                          "| what | before ms | x floor | after ms | x floor | after / before |",
                          "|---|---|---|---|---|---|"]
                fb = np.median([r[PARTS[0]] for r in rb])
                fa = np.median([r[PARTS[0]] for r in ra])
                for k in PARTS:
                    b = np.median([r[k] for r in rb])
                    a = np.median([r[k] for r in ra])
                    ratio = np.median([x[k] / y[k] for x, y in zip(ra, rb, strict=True)])
                    lines.append(f"| {k} | {b * 1e3:.2f} | {b / fb:.2f} | {a * 1e3:.2f} | "
                                 f"{a / fa:.2f} | {ratio:.2f} |")
                lib_b = np.median([r[PARTS[-1]] / r[PARTS[-2]] for r in rb]) ** -1
                lib_a = np.median([r[PARTS[-1]] / r[PARTS[-2]] for r in ra]) ** -1
                lines += ["", f"Default cell x librosa (same worker, same round): before "
                          f"{lib_b:.2f}, after {lib_a:.2f}.", ""]
                print("\n".join(lines[-(len(PARTS) + 6):]), flush=True)
            if args.clip_specs:
                lines += [f"## Per clip: `{CELL}` against librosa, as `melbench bench pipelines`",
                          "", "x librosa: the cell's CPU time over librosa's in the same round "
                          "(the mean of the two workers' librosa calls, the same code; median "
                          "over rounds); librosa a / b: the two workers' librosa times (noise "
                          "only); identical: the two workers' output audio has the same SHA-256.",
                          "", "| spec | clip | x librosa before | x librosa after | after / before "
                          "| librosa a / b | identical |", "|---|---|---|---|---|---|---|"]
                worst = {}
                for name in args.clip_specs:
                    for clip_id in CLIPS:
                        rb, ra = [], []
                        for _ in range(args.repeat):
                            rb.append(before.ask(op="clip", spec=name, clip=clip_id))
                            ra.append(after.ask(op="clip", spec=name, clip=clip_id))
                        lib = [(x["librosa"] + y["librosa"]) / 2 for x, y in zip(ra, rb, strict=True)]
                        xb = np.median([r["cell"] / v for r, v in zip(rb, lib, strict=True)])
                        xa = np.median([r["cell"] / v for r, v in zip(ra, lib, strict=True)])
                        lr = np.median([x["librosa"] / y["librosa"] for x, y in zip(ra, rb, strict=True)])
                        ratio = np.median([x["cell"] / y["cell"] for x, y in zip(ra, rb, strict=True)])
                        same = all(x["sha"] == y["sha"] for x, y in zip(ra, rb, strict=True))
                        wb, wa = worst.get(name, (0.0, 0.0))
                        worst[name] = (max(wb, xb), max(wa, xa))
                        lines.append(f"| {name} | {clip_id} | {xb:.2f} | {xa:.2f} | {ratio:.2f} | "
                                     f"{lr:.2f} | {'yes' if same else 'NO'} |")
                        print(lines[-1], flush=True)
                lines += ["", "| spec | max x librosa before | max x librosa after |", "|---|---|---|"]
                lines += [f"| {k} | {b:.2f} | {a:.2f} |" for k, (b, a) in worst.items()]
                lines.append("")
        finally:
            before.close()
            after.close()
    load1 = os.getloadavg()
    lines += [f"Load average at the end: {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}.", ""]
    atomic_write_bytes(Path(args.out), "\n".join(lines).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
