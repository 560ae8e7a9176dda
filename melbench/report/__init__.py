"""Reports over run directories: tables, plots and a static HTML page.

Everything is drawn from the long-format rows (one clip x one cell per row)
that ``melbench run`` writes:

- :mod:`melbench.report.runs` finds and loads rows from run/sweep directories;
- :mod:`melbench.report.tables` per-cell statistics (mean, seeded bootstrap 95% CI),
  best value per column, the SC aggregates, the Markdown/CSV/LaTeX documents;
- :mod:`melbench.report.render` text rendering shared by tables and figures (numbers,
  short and wrapped labels, Markdown and LaTeX table bodies);
- :mod:`melbench.report.kinds` per-kind and per-source tables (inapplicable metrics left out);
- :mod:`melbench.report.plots` matplotlib figures (convergence, Pareto, distributions);
- :mod:`melbench.report.axes` their log cost axes (ticks with units) and label placement;
- :mod:`melbench.report.html` the static page with tables, figures and audio players;
- :mod:`melbench.report.cli` the ``melbench report`` command.
"""
