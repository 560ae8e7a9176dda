"""Round 7 of the music-SC work (issue 16): cells on the contract family, the suite, speech.

Run from the repository root (one thread)::

    .venv/bin/python results/music_phase_round7.py family CELL [CELL ...]
    .venv/bin/python results/music_phase_round7.py music SPEC CELL [CELL ...]
    .venv/bin/python results/music_phase_round7.py speech SET SPEC CELL [CELL ...]

``guarded``'s ``inner`` takes a plugin name only, so the variants measured inside the guard
are registered here under their own names (:data:`VARIANTS`: ``joint_lrr`` subclasses whose
defaults are :data:`BASE` with the listed changes) before any section runs; ``music`` and ``speech`` are then
``results/music_phase.py music|musicN`` and ``results/joint_fgla_quality.py`` with them.

- ``family``: each ``melbench bench pipelines`` CELL (run as that benchmark runs it,
  :func:`melbench.bench.pipelines._cell_call`) on the bundled music excerpt
  (``vibe_ace_00-08s``) under the family of ten nearby mel contracts of round 5:
  speech16k with ``fmax`` 7000 / 7250 / 7500 / 7750 / 8000 Hz, each on the first 2.5 s (the
  benchmark's crop) and 4 s. Prints the true-magnitude SC (dB) per contract, then per cell
  the mean and how many contracts are more than 0.3 dB better / worse than the first cell.
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

from melbench.bench.pipelines import _cell_call, clips_for
from melbench.measures import spectral_convergence_db
from melbench.spec import get_spec

#: Round 7's first ``joint_lrr`` (``joint_lr``'s settings, then the restart): every variant
#: below is this with the keys it names changed, so that the names keep their meaning
#: whatever ``joint_lrr``'s defaults are.
BASE = {"beta": 0.0, "min_hz": 0.0, "lowrank": 0.25, "prior_iter": 150, "average_iter": 100,
        "restart_iter": 30, "restart_average": 0, "lowrank_solver": "eigh", "lowrank_gate": 0.0}
_B = {"prior_iter": 0, "average_iter": 0, "restart_average": 30, "lowrank_solver": "power"}
#: Variants (name -> changes to :data:`BASE`), registered as inverters (``joint_lrr`` subclasses).
VARIANTS: dict[str, dict] = {
    "lrr_a": {},  # averaging, then the restart (order A)
    "lrr_p0": {"prior_iter": 0},
    "lrr_ra30": {"restart_average": 30},  # both averagings (A + B)
    "lrr_p0_ra30": {"prior_iter": 0, "restart_average": 30},
    "lrr_p0_ra30_pw": {"prior_iter": 0, "restart_average": 30, "lowrank_solver": "power"},
    "lrr_p0_b": _B,  # the restart's averaging only (order B)
    "lrr_g05": {**_B, "lowrank_gate": 0.05},
    "lrr_g06": {**_B, "lowrank_gate": 0.06},
    "lrr_g08": {**_B, "lowrank_gate": 0.08},
    "tcr_lr": {**_B, "beta": 0.25, "prior_iter": 150},  # joint_tcr + the low-rank prior
    "lrr_c250": {**_B, "beta": 0.25, "min_hz": 250.0},  # joint_lrr's defaults
    "lrr_c250_p150": {**_B, "beta": 0.25, "min_hz": 250.0, "prior_iter": 150},
    "lrr_c100": {**_B, "beta": 0.25, "min_hz": 100.0},
}

FMAXES = (7000.0, 7250.0, 7500.0, 7750.0, 8000.0)
CROPS = (2.5, 4.0)


def family(cells: list[str]) -> None:
    """The ``family`` section (module docstring)."""
    res: dict[str, list[float]] = {c: [] for c in cells}
    for fm in FMAXES:
        spec = get_spec("speech16k").replace(fmax=fm)
        for crop in CROPS:
            y = clips_for(spec, ["vibe_ace_00-08s"], False, crop)[0][2]
            mag = spec.magnitude(y)
            mel = spec.mel_from_magnitude(mag)
            for c in cells:
                out = np.asarray(_cell_call(c, spec, len(y), mag, 0)(mel), np.float32)[: len(y)]
                res[c].append(spectral_convergence_db(mag, spec.magnitude(out)))
            print(f"fmax {fm:6.0f} crop {crop}: " + " ".join(f"{res[c][-1]:7.2f}" for c in cells), flush=True)
    first = np.array(res[cells[0]])
    for c in cells:
        a = np.array(res[c])
        d = a - first
        print(f"MEAN {a.mean():7.2f} min {a.min():7.2f} max {a.max():7.2f} crop2.5 {a[0::2].mean():7.2f} "
              f"crop4 {a[1::2].mean():7.2f} | vs first {d.mean():+5.2f} better>0.3 {int((d < -0.3).sum())} "
              f"worse>0.3 {int((d > 0.3).sum())}  [{c}]", flush=True)


def _register_variants() -> None:
    from dataclasses import make_dataclass

    from melbench import registry
    from melbench.inverters.guarded import ITERATION_COUNTERS
    from melbench.inverters.joint_lowrank import JointLRR

    for name, changes in VARIANTS.items():
        fields = [(k, type(v), v) for k, v in {**BASE, **changes}.items()]
        params = make_dataclass("Params", fields, bases=(JointLRR.Params,))
        registry.register("inverter", type(name, (JointLRR,), {"name": name, "Params": params}), name)
        ITERATION_COUNTERS[name] = "joint_iter"


def main(argv: list[str]) -> int:
    """Dispatch the sections of the module docstring."""
    _register_variants()
    if argv[0] == "music":
        sys.path.insert(0, "results")
        import music_phase

        return music_phase.main(["music", *argv[1:]])
    if argv[0] == "speech":
        sys.path.insert(0, "results")
        import joint_fgla_quality

        return joint_fgla_quality.main(argv[1:])
    with threadpool_limits(1):
        if argv[0] == "family":
            family(argv[1:])
        else:
            raise SystemExit(f"unknown section {argv[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
