"""Score slow metrics (PESQ, STOI) in worker processes, across clips, with the same results.

The runner asks :func:`melbench.pipeline.run_clip` to leave *deferred* metrics
(a metric class with ``deferred = True``) unscored; :class:`MetricPool` sends
each (metric, clip context) to a process pool as soon as its clip is done, so
the metrics of earlier clips run while later clips are inverted. Workers call
the same :func:`melbench.pipeline.score_metric` as the serial path, so the
numbers do not depend on ``metric_jobs``. Timing columns are unaffected: they
are measured around the plugin calls in the clip loop.

A worker failure (a crash in a metric's C code, an unpicklable metric) never
stops the run: the metric is scored in this process if it could not be sent,
or its columns get NaN with the reason.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import ParameterError
from .pipeline import ClipResult, join_notes, score_metric
from .plugin import Metric

log = logging.getLogger("melbench")

#: Jobs in flight per worker before submitting waits (bounds the memory held by contexts).
MAX_IN_FLIGHT_PER_JOB = 4


def _start_method() -> str:
    """Start method: fork (instant) up to Python 3.11, then forkserver (or spawn).

    Python 3.12 warns when a multi-threaded process forks (a progress bar's monitor
    thread is enough), so newer interpreters start workers from a clean server.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.version_info < (3, 12) and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def parse_jobs(n_jobs: Any) -> int:
    """Worker count from the ``metric_jobs`` setting (joblib style: -1 = every core).

    Raises
    ------
    ParameterError
        If it is not a whole number.
    """
    try:
        n = int(n_jobs if n_jobs is not None else 1)
    except (TypeError, ValueError):
        raise ParameterError(
            f"metric_jobs={n_jobs!r}: give a whole number of worker processes "
            "(1 = score in the clip loop, -1 = one per core)"
        ) from None
    if n < 0:
        n = max(1, (os.cpu_count() or 1) + 1 + n)
    return n


class MetricPool:
    """Score deferred metrics of finished clips in ``n_jobs`` worker processes.

    Parameters
    ----------
    n_jobs : int
        Worker processes; 0 or 1 means no pool (metrics are scored in the clip
        loop, see :attr:`active`); negative counts from the number of cores
        (-1 = one per core).
    metrics : sequence of Metric
        The metrics given to :func:`~melbench.pipeline.run_clip` (same order).

    Examples
    --------
    ::

        pool = MetricPool(cfg.get("metric_jobs", 2), metrics)
        for clip in clips:
            res = run_clip(clip, ..., metrics, defer=pool.active)
            rows.append(res.row)
            pool.submit(res)          # fills rows of finished jobs as it goes
        pool.finish()                 # waits, fills the remaining rows, stops the workers
    """

    def __init__(self, n_jobs: Any, metrics: Sequence[Metric]) -> None:
        self.n_jobs = parse_jobs(n_jobs)
        self.metrics = list(metrics)
        self._executor: ProcessPoolExecutor | None = None
        self._pending: list[tuple[ClipResult, int, Future | None]] = []
        self._picklable: dict[int, bool] = {}

    @property
    def active(self) -> bool:
        """True if deferred metrics should be left to this pool (``n_jobs > 1``)."""
        return self.n_jobs > 1

    def _can_send(self, i: int) -> bool:
        if i not in self._picklable:
            try:
                pickle.dumps(self.metrics[i])
                self._picklable[i] = True
            except Exception as exc:  # noqa: BLE001
                log.warning("metric %s cannot be sent to a worker (%s); scoring it here",
                            self.metrics[i].name, exc)
                self._picklable[i] = False
        return self._picklable[i]

    def submit(self, result: ClipResult) -> None:
        """Queue the deferred metrics of one clip; fill the rows of jobs already done."""
        for i in result.deferred:
            if not self._can_send(i):
                self._pending.append((result, i, None))
                continue
            self._pending.append((result, i, self._send(i, result.context)))
        self.collect(block=False)
        limit = MAX_IN_FLIGHT_PER_JOB * max(self.n_jobs, 1)
        while sum(1 for *_, f in self._pending if f is not None and not f.done()) > limit:
            wait([f for *_, f in self._pending if f is not None and not f.done()],
                 return_when=FIRST_COMPLETED)
            self.collect(block=False)

    def _send(self, i: int, ctx: Any) -> Future:
        """Submit one job; a pool broken by a crashed worker is replaced once."""
        for attempt in (0, 1):
            if self._executor is None:
                mp = multiprocessing.get_context(_start_method())
                self._executor = ProcessPoolExecutor(max_workers=self.n_jobs, mp_context=mp)
            try:
                return self._executor.submit(score_metric, self.metrics[i], ctx)
            except (BrokenProcessPool, RuntimeError) as exc:
                log.warning("metric worker pool broken (%s); starting a new one", exc)
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                if attempt:
                    failed: Future = Future()
                    failed.set_exception(exc)
                    return failed
        raise AssertionError("unreachable")  # pragma: no cover

    def collect(self, block: bool = True) -> int:
        """Fill the rows of finished jobs (all jobs if ``block``); returns how many were filled."""
        keep, done = [], 0
        for result, i, fut in self._pending:
            if fut is not None and not block and not fut.done():
                keep.append((result, i, fut))
                continue
            self._fill(result, i, fut)
            done += 1
        self._pending = keep
        return done

    def _fill(self, result: ClipResult, i: int, fut: Future | None) -> None:
        m = self.metrics[i]
        if fut is None:
            values, notes = score_metric(m, result.context or {})
        else:
            try:
                values, notes = fut.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker, a pickling failure...
                why = (f"a metric worker process died ({type(exc).__name__}), perhaps while "
                       "scoring another clip" if isinstance(exc, BrokenProcessPool)
                       else f"the worker failed ({type(exc).__name__}: {exc})")
                values, notes = {}, [f"{m.name}: not scored: {why}"]
        result.row.update(values)
        result.metric_notes[i] = notes
        result.row["notes"] = join_notes([result.clip_notes, *result.metric_notes])
        result.deferred = [j for j in result.deferred if j != i]
        if not result.deferred:
            result.context = None

    def finish(self) -> None:
        """Wait for every job, fill the remaining rows and stop the workers."""
        try:
            self.collect(block=True)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers: queued jobs are cancelled (their rows stay "pending"), running ones end."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
