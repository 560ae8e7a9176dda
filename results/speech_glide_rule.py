"""One fixed glide rule on the measured rows, with the near-identical settings as a control.

Run from the repository root::

    .venv/bin/python results/speech_glide_rule.py results/speech_glide_speech16k.csv TAU
    .venv/bin/python results/speech_glide_rule.py results/speech_glide_guarded.csv TAU

The rule: ``prior_iter`` = ``hi`` (150, or its twin 149) where ``f0slope <= TAU``, else
``lo`` (100, or its twin 101). A rule that follows the clip keeps its gain when 100 -> 101
and 150 -> 149; one that rides on one chaotic draw does not. Prints the mean per-clip gain
over ``prior_iter`` = 150 on the even, odd and all clips with bootstrap 95 % CIs. See
``results/speech_glide.md``.
"""

from __future__ import annotations

import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speech_glide import _boot  # noqa: E402


def main(path: str, tau: float) -> int:
    """Print the rule's gains for each (lo, hi) twin pair."""
    P: dict[int, dict[int, float]] = {}
    F: dict[int, float] = {}
    with open(path) as fh:
        for r in csv.DictReader(fh):
            P.setdefault(int(r["index"]), {})[int(r["prior_iter"])] = float(r["pesq"])
            F[int(r["index"])] = float(r["f0slope"])
    idx = np.array(sorted(P))
    fast = np.array([F[i] > tau for i in idx])
    print(f"{int(fast.sum())} of {len(idx)} clips above f0slope {tau}")
    for lo in (100, 101):
        for hi in (150, 149):
            sel = np.array([P[i][lo] if f else P[i][hi] for i, f in zip(idx, fast, strict=True)])
            d = sel - np.array([P[i][150] for i in idx])
            parts = []
            for half, m in (("even", idx % 2 == 0), ("odd", idx % 2 == 1), ("all", idx >= 0)):
                a, b = _boot(d[m])
                parts.append(f"{half} {d[m].mean():+.4f} [{a:+.4f}, {b:+.4f}]")
            print(f"  fast -> {lo}, slow -> {hi}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], float(sys.argv[2])))
