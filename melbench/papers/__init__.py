"""Published results beside melbench's: the paper-reproduction reports of ``results/papers/``.

Each reproduction ``<name>`` is a Hydra experiment (``conf/experiment/<name>.yaml``) and a
folder here, ``melbench/papers/<name>/``, holding its data (``paper.yaml``: citations, the
published table and where it is printed, both set-ups, the discussion; see
:mod:`melbench.papers.data`) and its report code (``experiment.py``)::

    melbench papers run prusa2017_pghi
    # = melbench run -m +experiment=prusa2017_pghi hydra.sweep.dir=outputs/papers/prusa2017_pghi
    #   melbench papers report prusa2017_pghi outputs/papers/prusa2017_pghi -o results/papers/prusa2017_pghi

``report`` writes ``README.md`` (melbench's table, the published one beside it, the
exact command, versions and a discussion of orderings and gaps) and ``rows.csv`` (every
row of the run, the input of ``melbench report`` too). Given a ``rows.csv`` instead of
a run directory, it regenerates the page from the committed rows. ``melbench papers
list`` lists the experiments.

Published numbers are compared by *ordering and gaps*, never by absolute value: the
papers used other material (EBU SQAM, MOCHA-TIMIT, LJSpeech), other signal lengths, and
LTFAT's periodic discrete Gabor transform instead of melbench's zero-padded centred STFT.

The modules: :mod:`~melbench.papers.keys` (method keys of plugin labels),
:mod:`~melbench.papers.stats` (aggregates, rank statistics, trace readers),
:mod:`~melbench.papers.render` (Markdown), :mod:`~melbench.papers.data` (the data files),
:mod:`~melbench.papers.registry` (experiments, reports), :mod:`~melbench.papers.cli`
(``melbench papers``).
"""

from __future__ import annotations

from ..measures import db_of_mean
from .cli import main
from .data import Paper, Published, load_paper, parse_paper
from .keys import display, display_params, method_key, n_iter_of
from .registry import EXPERIMENTS, PaperExperiment, load_rows, missing_plugins, write_report
from .render import Section, md_table, render
from .stats import kendall_tau, ordering, pairwise_agreement, trace_at, trace_sc

__all__ = [
    "EXPERIMENTS", "Paper", "PaperExperiment", "Published", "Section", "db_of_mean", "display",
    "display_params", "kendall_tau", "load_paper", "load_rows", "main", "md_table", "method_key",
    "missing_plugins", "n_iter_of", "ordering", "pairwise_agreement", "parse_paper", "render",
    "trace_at", "trace_sc", "write_report",
]
