"""Reports over run directories: tables, plots and a static HTML page.

Everything is drawn from the long-format rows (one clip x one cell per row)
that ``melbench run`` writes:

- :mod:`melbench.report.runs` finds and loads rows from run/sweep directories;
- :mod:`melbench.report.tables` per-cell statistics (mean, seeded bootstrap 95% CI),
  best value per column, Markdown/CSV/LaTeX renderings;
- :mod:`melbench.report.plots` matplotlib figures (convergence, Pareto, distributions);
- :mod:`melbench.report.html` the static page with tables, figures and audio players;
- :mod:`melbench.report.cli` the ``melbench report`` command.
"""
