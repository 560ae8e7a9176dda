"""Seconds per stage and the real-time factor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..plugin import Metric


class Timing(Metric):
    """Wall-clock seconds of each stage, measured around the plugin call only.

    The runner calls each cell's plugins once on a short synthetic clip before the first
    timed clip, so one-off costs (numba compilation, cached operators) are not counted.

    Columns: ``t_invert``, ``t_phase``, ``t_synth`` (seconds) and ``rtf``
    (total seconds per second of audio; below 1 is faster than real time).
    """

    name: ClassVar[str] = "timing"
    columns: ClassVar[tuple[str, ...]] = ("t_invert", "t_phase", "t_synth", "rtf")
    better: ClassVar[dict[str, str]] = {c: "lower" for c in columns}
    needs_reference: ClassVar[bool] = False

    def compute(self, ctx: Mapping[str, Any]) -> dict[str, float]:
        """Return the stage times and the real-time factor."""
        t = ctx["times"]
        total = t["invert"] + t["phase"] + t["synth"]
        dur = ctx["duration"]
        return {
            "t_invert": t["invert"], "t_phase": t["phase"], "t_synth": t["synth"],
            "rtf": total / dur if dur > 0 else float("nan"),
        }
