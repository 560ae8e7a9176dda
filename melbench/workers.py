"""Worker processes for many independent mels: job counts, one thread each, the cell rebuilt.

Used by :mod:`melbench.batch` (``melbench invert --jobs``, :func:`melbench.invert_batch`).
On Linux the workers are forked from this process (they start at once, need no
``if __name__ == "__main__"`` guard in a user's script, and see plugins registered
in this process); elsewhere they are spawned. Each worker limits itself to one
BLAS/OpenMP thread (``threadpoolctl``; :data:`THREAD_VARS` = 1 for anything it
starts), builds the cell's plugins once from their registry names and
parameters (:class:`Cell`), runs them once untimed (:func:`warm_up`: numba loads its
compiled kernels) and then takes one item at a time, largest first
(:func:`run_in_pool`), so no worker is left with a long item at the end. With spawned
workers, a plugin registered only in this process (``registry.register``) cannot be
rebuilt (:func:`not_rebuildable` says why).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .plugin import Inverter, PhaseRetriever, Plugin
from .spec import FeatureSpec

log = logging.getLogger("melbench")

#: Environment variables set to 1 in worker processes (one thread per worker).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def default_jobs() -> int:
    """Number of cores this process may use (``os.sched_getaffinity``, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs: int | None, n_items: int) -> int:
    """Worker count for ``n_items`` items: ``None``/0 = all cores, never more than the items.

    Raises
    ------
    ParameterError
        ``jobs`` negative or not an integer.
    """
    from .errors import ParameterError

    if jobs is None or jobs == 0:
        jobs = default_jobs()
    if isinstance(jobs, bool) or int(jobs) != jobs or jobs < 0:
        raise ParameterError(f"jobs={jobs!r}: give a number of worker processes >= 1 "
                             "(0 or None: all cores)")
    return max(1, min(int(jobs), max(1, n_items)))


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Set :data:`THREAD_VARS` to 1 while processes are started; restore them afterwards."""
    old = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: "1" for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``getrusage``; NaN where unavailable)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024.0 * 1024.0) if sys.platform == "darwin" else kib / 1024.0


# --------------------------------------------------------------------------- the cell


@dataclass(frozen=True)
class Cell:
    """What a worker needs to rebuild the cell: spec, plugin names and parameters, seed."""

    spec: FeatureSpec
    inverter: tuple[str, dict[str, Any]]
    phase: tuple[str, dict[str, Any]]
    seed: int = 0

    @classmethod
    def of(cls, spec: FeatureSpec, inverter: Inverter, phase: PhaseRetriever, seed: int = 0) -> Cell:
        """The recipe of built plugins (their registry name and parameters)."""
        return cls(spec, (inverter.name, inverter.param_dict()), (phase.name, phase.param_dict()),
                   int(seed))

    def build(self) -> tuple[Inverter, PhaseRetriever]:
        """Instantiate the plugins from the registry (in a worker)."""
        from . import registry

        inv = registry.create("inverter", self.inverter[0], self.inverter[1])
        ph = registry.create("phase", self.phase[0], self.phase[1])
        return inv, ph  # type: ignore[return-value]


def start_method() -> str:
    """``fork`` on Linux (fast start, no main-module re-import), else ``spawn``."""
    import multiprocessing

    return "fork" if sys.platform.startswith("linux") and \
        "fork" in multiprocessing.get_all_start_methods() else "spawn"


def not_rebuildable(*plugins: Plugin) -> str | None:
    """Why a worker process could not rebuild these plugins by name (None if it can)."""
    from importlib import metadata

    from . import registry

    if start_method() == "fork":  # a forked worker has this process's registry
        return None
    for p in plugins:
        info = registry.info(p.kind, p.name)
        eps = [ep for ep in metadata.entry_points(group=registry.GROUPS[p.kind]) if ep.name == p.name]
        if not eps or eps[0].value != info.target:
            return (f"{p.kind} {p.name!r} is registered only in this process (no entry point); "
                    "declare it in a package's entry points to run it in worker processes")
    return None


#: What a worker process built in :func:`_init_worker`: ``cell``, ``inverter``, ``phase``.
WORKER: dict[str, Any] = {}


def _init_worker(cell: Cell, warm: bool) -> None:
    """Pool initializer: one thread, build the plugins once, run them once untimed.

    ``warm``: this process was forked from one that already ran the plugins (numba's
    kernels are loaded), so the warm-up is skipped.
    """
    os.environ.update({k: "1" for k in THREAD_VARS})
    try:
        from threadpoolctl import threadpool_limits

        WORKER["limits"] = threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - a dependency; spawned workers have the env
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    inv, ph = cell.build()
    WORKER.update(cell=cell, inverter=inv, phase=ph)
    if not warm:
        warm_up(cell.spec, inv, ph)


def run_in_pool(
    fn: Callable[..., Any], items: Sequence[Any], order: Sequence[int], cell: Cell, jobs: int,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, fn(item))`` as workers finish, items submitted in ``order``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    method = start_method()
    if method == "fork":  # warm up once here; the forked workers inherit the loaded kernels
        inv, ph = cell.build()
        warm_up(cell.spec, inv, ph)
    ctx = multiprocessing.get_context(method)
    with single_threaded_children(), ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(cell, method == "fork")
    ) as pool:
        futures = {pool.submit(fn, items[i]): i for i in order}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def warm_up(spec: FeatureSpec, inverter: Inverter, phase: PhaseRetriever) -> None:
    """Run a cell's plugins once on half a second of synthetic audio, untimed.

    One-off costs (numba compilation on a fresh install, cached operators, imports) then
    do not land in the first clip's stage times (:mod:`melbench.runner`) or in a
    worker's first item. Failures are ignored here: the real clips report them.

    Parameters
    ----------
    spec : FeatureSpec
        The cell's spec.
    inverter, phase : Inverter, PhaseRetriever
        The cell's plugins.
    """
    from .signals import conformance_signal

    try:
        y = conformance_signal(spec.sample_rate, seconds=max(0.5, 2 * spec.n_fft / spec.sample_rate))
        mag = spec.magnitude(y)
        target = inverter(spec.mel_from_magnitude(mag), spec, context={"reference_magnitude": mag})
        phase(target, spec, rng=0)
    except Exception as exc:  # noqa: BLE001 - the clips will say what is wrong
        log.debug("warm-up failed: %s", exc)
