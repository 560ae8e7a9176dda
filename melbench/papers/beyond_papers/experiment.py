"""Beyond the papers: Průša et al.'s Table 1 extended with the methods published since.

Reuses the Prusa (2017) and Marafioti (2021) tables and their published columns (their
``paper.yaml``); this folder's ``paper.yaml`` holds the page's own text.
"""

from __future__ import annotations

import pandas as pd

from ..data import Paper, load_paper
from ..marafioti2021_redundancy.experiment import marafioti_sections
from ..prusa2017_pghi.experiment import prusa_sections
from ..render import Section


def build(rows: pd.DataFrame, paper: Paper) -> list[Section]:
    """Table 1 extended per spec (and a redundancy table for Marafioti specs), then the discussion."""
    secs: list[Section] = []
    is_mar = rows["spec"].astype(str).str.contains("marafioti")
    if not rows[~is_mar].empty:
        secs += prusa_sections(rows[~is_mar], load_paper("prusa2017_pghi").table(), beyond=True)
    if not rows[is_mar].empty:
        secs += marafioti_sections(rows[is_mar], load_paper("marafioti2021_redundancy"))
    secs.append(Section("Discussion", paper.discussion))
    return secs
