"""``melbench bench torch``: the torch backend against torchaudio's Griffin-Lim and the numpy path.

Per spec (``speech16k``, ``tts22k``) and batch (one 4 s clip; eight 4 s clips)
it times, interleaved within each repetition (minimum over ``--repeat``):

* ``fgla_torch``: :func:`melbench.torch_backend.fgla` (momentum 0.99);
* ``torchaudio_gl``: ``torchaudio.functional.griffinlim`` (momentum 0.99, random
  start) **re-implemented here from its published source** (pytorch/audio,
  ``src/torchaudio/functional/functional.py``: per iteration ``torch.istft`` of
  ``|S| * angles``, ``torch.stft`` with ``center=True, pad_mode="reflect"``,
  ``angles = rebuilt - tprev * m / (1 + m)``, ``angles /= |angles| + 1e-16``),
  because no torchaudio build matches the installed torch here;
* ``fgla`` (numpy, numba): :func:`melbench.phase.projections.fgla`;

and reports seconds per iteration (time of ``--iters`` iterations divided by
their number, set-up included), the ratio ``torchaudio_gl / fgla_torch`` (> 1:
the torch backend is faster), and the spectral convergence reached by each
(same iterations). ``nnls_torch`` and ``pinv_torch`` are timed against ``nnls``
and ``pinv`` on the same mels. Threads: torch and the FFTs run one thread
(``torch.set_num_threads(1)``), as melbench's numpy path does. CUDA rows are
measured when a GPU is available (``torch.cuda.is_available()``); otherwise the
results say so. Writes ``results/bench_torch.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..measures import spectral_convergence_db

SPECS = ("speech16k", "tts22k")
BATCHES = (1, 8)
SECONDS = 4.0


def torchaudio_griffinlim(specgram, window, n_fft: int, hop_length: int, win_length: int,
                          power: float, n_iter: int, momentum: float, length: int | None,
                          rand_init: bool):
    """``torchaudio.functional.griffinlim``, re-implemented from its documented source.

    Same steps and constants as torchaudio's (see the module docstring); written here
    because torchaudio cannot be installed next to this torch.
    """
    import torch

    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    m = momentum / (1 + momentum)
    shape = specgram.size()
    specgram = specgram.reshape([-1, *shape[-2:]]).pow(1 / power)
    cdt = torch.complex128 if specgram.dtype == torch.float64 else torch.complex64
    if rand_init:
        angles = torch.rand(specgram.size(), dtype=cdt, device=specgram.device)
    else:
        angles = torch.full(specgram.size(), 1, dtype=cdt, device=specgram.device)
    tprev = torch.tensor(0.0, dtype=specgram.dtype, device=specgram.device)
    for _ in range(n_iter):
        inverse = torch.istft(specgram * angles, n_fft=n_fft, hop_length=hop_length,
                              win_length=win_length, window=window, length=length)
        rebuilt = torch.stft(input=inverse, n_fft=n_fft, hop_length=hop_length,
                             win_length=win_length, window=window, center=True, pad_mode="reflect",
                             normalized=False, onesided=True, return_complex=True)
        angles = rebuilt
        if m:
            angles = angles - tprev.mul_(m)
        angles = angles.div(angles.abs().add(1e-16))
        tprev = rebuilt
    wave = torch.istft(specgram * angles, n_fft=n_fft, hop_length=hop_length,
                       win_length=win_length, window=window, length=length)
    return wave.reshape(shape[:-2] + wave.shape[-1:])


def _signals(spec, batch: int) -> np.ndarray:
    from ..datasets.bundled import Bundled

    clips = [c for c in Bundled().clips(spec) if c.audio is not None and not c.error]
    n = int(SECONDS * spec.sample_rate)
    out = []
    for i in range(batch):
        y = clips[i % len(clips)].audio
        off = (i // len(clips)) * spec.hop_length * 7
        seg = np.resize(y[off:], n)  # tile a short clip
        out.append(seg.astype(np.float32))
    return np.stack(out)


def _sc_db(spec, mag: np.ndarray, y: np.ndarray) -> float:
    return spectral_convergence_db(mag, spec.magnitude(y))


def _best(fn, repeat: int) -> float:
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def run(*, iters: int = 100, repeat: int = 3, devices: list[str] | None = None,
        log=print) -> list[dict[str, Any]]:
    """Measure every (device, spec, batch); one row per cell and method."""
    import torch

    from .. import torch_backend as mt
    from ..inverters.nnls import mel_nnls_inverse
    from ..inverters.pinv import mel_pinv_inverse
    from ..phase.projections import fgla
    from ..spec import get_spec

    torch.set_num_threads(1)
    devices = devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows: list[dict[str, Any]] = []
    for dev in devices:
        sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
        for name in SPECS:
            spec = get_spec(name)
            for batch in BATCHES:
                y = _signals(spec, batch)
                mag = np.abs(spec.stft(y)).astype(np.float32)
                mag_t = torch.from_numpy(mag).to(dev)
                win = torch.from_numpy(spec.window_array.astype(np.float32)).to(dev)
                n = y.shape[-1]
                out: dict[str, Any] = {}

                def ours(out=out, mag_t=mag_t, spec=spec, n=n, sync=sync):
                    x = mt.fgla(mag_t, spec, n_iter=iters, alpha=0.99, rng=0)
                    out["fgla_torch"] = mt.istft(x, spec, length=n)
                    sync()

                def theirs(out=out, mag_t=mag_t, win=win, spec=spec, n=n, sync=sync):
                    torch.manual_seed(0)
                    out["torchaudio_gl"] = torchaudio_griffinlim(
                        mag_t, win, spec.n_fft, spec.hop_length, spec.n_fft, 1.0, iters, 0.99, n,
                        True)
                    sync()

                def numpy_fgla(out=out, mag=mag, spec=spec, n=n):
                    out["fgla"] = spec.istft(fgla(mag, spec, n_iter=iters, alpha=0.99, rng=0),
                                             length=n)

                fns = {"fgla_torch": ours, "torchaudio_gl": theirs}
                if dev == "cpu":
                    fns["fgla"] = numpy_fgla
                for fn in fns.values():  # warm-up (numba kernels, torch allocator, FFT plans)
                    fn()
                times = {k: [] for k in fns}
                for _ in range(repeat):
                    for k, fn in fns.items():
                        times[k].append(_best(fn, 1))
                ref = min(times["fgla_torch"])
                for k in fns:
                    yk = out[k].cpu().numpy() if hasattr(out[k], "cpu") else out[k]
                    t = min(times[k])
                    rows.append({"device": dev, "spec": name, "batch": batch, "method": k,
                                 "s_per_iter": t / iters, "ratio": t / ref,
                                 "sc_db": _sc_db(spec, mag, yk)})
                    log(f"{dev:5s} {name:10s} batch {batch}  {k:14s} {1e3 * t / iters:8.3f} ms/iter"
                        f"  x{t / ref:5.2f} of fgla_torch  SC {rows[-1]['sc_db']:7.2f} dB")
                # inverters on the same mels
                lin = spec.mel_from_magnitude(mag, compress=False)
                lin_t = torch.from_numpy(lin).to(dev)
                inv = {
                    "nnls_torch": lambda lin_t=lin_t, spec=spec, sync=sync: (mt.nnls(lin_t, spec), sync()),
                    "pinv_torch": lambda lin_t=lin_t, spec=spec, sync=sync: (mt.pinv(lin_t, spec), sync()),
                }
                if dev == "cpu":
                    inv["nnls"] = lambda lin=lin, spec=spec: mel_nnls_inverse(lin, spec)
                    inv["pinv"] = lambda lin=lin, spec=spec: mel_pinv_inverse(lin, spec)
                for fn in inv.values():
                    fn()
                tinv = {k: min(_best(fn, 1) for _ in range(repeat)) for k, fn in inv.items()}
                for k, t in tinv.items():
                    rows.append({"device": dev, "spec": name, "batch": batch, "method": k,
                                 "s_per_call": t})
                    log(f"{dev:5s} {name:10s} batch {batch}  {k:14s} {1e3 * t:8.2f} ms/call")
    return rows


def write_markdown(rows: list[dict[str, Any]], path: Path, *, iters: int, repeat: int) -> None:
    """The results table with the machine facts."""
    import torch

    gpu = torch.cuda.is_available()
    lines = [
        "# Torch backend: fgla_torch vs torchaudio's griffinlim vs the numpy path",
        "",
        f"`melbench bench torch --iters {iters} --repeat {repeat}`; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, one thread "
        f"(torch.set_num_threads(1); numpy FFT workers 1); load average at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        "",
        "`torchaudio_gl` is torchaudio.functional.griffinlim **re-implemented in the benchmark** from "
        "its published source (pytorch/audio `src/torchaudio/functional/functional.py`; torchaudio "
        "itself has no build for this torch here). Each signal is 4 s of bundled speech/music; "
        "momentum 0.99; seconds per iteration = time of all iterations (set-up included) / "
        "iterations, minimum over the repetitions, methods interleaved. `ratio` = time / "
        "time(fgla_torch) (> 1: slower than the torch backend). SC = spectral convergence of the "
        "result's magnitude against the target (dB, lower is better; torchaudio's start differs).",
        "",
        "CUDA: " + ("measured (rows with device cuda)." if gpu else
                    "**no GPU on this machine**, so no CUDA timings; the same code runs on CUDA "
                    "(`device=\"cuda\"`)."),
        "",
        "| device | spec | batch | method | ms / iteration | ratio | SC (dB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "s_per_iter" in r:
            lines.append(f"| {r['device']} | {r['spec']} | {r['batch']} | {r['method']} | "
                         f"{1e3 * r['s_per_iter']:.3f} | {r['ratio']:.2f} | {r['sc_db']:.2f} |")
    ta = [r["ratio"] for r in rows if r.get("method") == "torchaudio_gl"]
    npy = [r["ratio"] for r in rows if r.get("method") == "fgla"]
    if ta:
        lines += ["", f"**fgla_torch per iteration: {min(ta):.2f}x to {max(ta):.2f}x faster than "
                  "torchaudio's griffinlim** (same device, same run)" + (
                      f"; the numpy/numba `fgla` takes {min(npy):.2f}x to {max(npy):.2f}x the time "
                      "of fgla_torch on CPU." if npy else ".")]
    lines += ["", "Inverters on the mels of the same signals (one call, all frames of the batch). "
              "`nnls_torch` multiplies by the dense filterbank (for the GPU), so on one CPU thread "
              "it is slower than the numba `nnls`, which uses the bands' sparsity:", "",
              "| device | spec | batch | method | ms / call |", "|---|---|---|---|---|"]
    for r in rows:
        if "s_per_call" in r:
            lines.append(f"| {r['device']} | {r['spec']} | {r['batch']} | {r['method']} | "
                         f"{1e3 * r['s_per_call']:.2f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="melbench bench torch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=100, help="Griffin-Lim iterations (default 100)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions, minimum kept (default 3)")
    p.add_argument("--device", action="append", help="device(s) to measure (default cpu, + cuda "
                   "when available)")
    p.add_argument("--out", type=Path, default=Path("results/bench_torch.md"))
    args = p.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("melbench bench torch: torch is not installed: pip install -e '.[torch]' in melbench's clone",
              file=sys.stderr)
        return 2
    rows = run(iters=args.iters, repeat=args.repeat, devices=args.device)
    write_markdown(rows, args.out, iters=args.iters, repeat=args.repeat)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
