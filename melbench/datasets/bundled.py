"""``bundled``: the small real recordings shipped with melbench (speech 8/16 kHz, music)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ParameterError
from ..plugin import Dataset
from ..resources import bundled_dir
from ..spec import FeatureSpec
from .base import Clip, clip_from_file


def read_manifest() -> list[dict[str, str]]:
    """Rows of the bundled manifest (id, file, sample_rate, channels, duration, kind, ...)."""
    root = bundled_dir()
    with open(root / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Bundled(Dataset):
    """The bundled clips, listed in ``datasets/bundled/manifest.csv`` with their licences."""

    name: ClassVar[str] = "bundled"

    @dataclass
    class Params:
        """Parameters of the bundled dataset.

        Attributes
        ----------
        kind : str
            "all", "speech" or "music".
        ids : list of str
            Keep only these clip ids (empty = all).
        """

        kind: str = "all"
        ids: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Check the kind and the ids."""
        if self.params.kind not in ("all", "speech", "music"):
            raise ParameterError(f"kind={self.params.kind!r}; choose all, speech or music")
        known = {r["id"] for r in read_manifest()}
        unknown = sorted(set(self.params.ids) - known)
        if unknown:
            raise ParameterError(f"unknown bundled clip id(s) {unknown}; known: {sorted(known)}")

    def clips(self, spec: FeatureSpec) -> Iterator[Clip]:
        """Yield the selected clips, mono, resampled to the spec's rate."""
        root = bundled_dir()
        for row in read_manifest():
            if self.params.kind != "all" and row["kind"] != self.params.kind:
                continue
            if self.params.ids and row["id"] not in self.params.ids:
                continue
            meta = {"kind": row["kind"], "licence": row["licence"], "source": "bundled",
                    "origin": row["source"]}
            yield clip_from_file(root / row["file"], row["id"], spec.sample_rate, meta)
