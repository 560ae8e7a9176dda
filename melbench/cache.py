"""Content-keyed cache of result rows, so that rerunning a sweep computes only what is missing.

A *cell key* hashes everything that decides a clip's numbers: the dataset label,
the spec's numerical fields, the canonical labels (sorted parameters) of the
inverter, the phase retriever and every metric, the seed, the degradation
config, the trace flag, melbench's version and a fingerprint of the source of
the modules that compute (the plugins' modules and the pipeline core: editing a
plugin invalidates its cells; ``MELBENCH_CODE_VERSION=<tag>`` pins this part). It does
not depend on the order of the command line, on Hydra's job number or on the
output directory. A *clip key* hashes the clip's id and its samples.

Layout (one small file per (cell, clip), written atomically)::

    <cache_dir>/<cell key>/cell.json          what the key stands for (for humans)
    <cache_dir>/<cell key>/<clip key>.json    {"row": {...}, "cell_key", "clip_key", "clip", "digest"}
    <cache_dir>/<cell key>/<clip key>.wav     the estimate, when the run saved audio

Only rows whose status is in :data:`CACHEABLE` are stored: a failed clip is
recomputed on the next run. Nothing read back is trusted unchecked: an entry whose
recorded cell key, clip key or clip id differs from where it is filed, or whose row
does not match its digest (an edited or foreign file), is recomputed with a
:class:`CacheEntryWarning`. ``force=true`` ignores what is stored (and
overwrites it).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .results import atomic_write_bytes
from .validation import MelbenchWarning

log = logging.getLogger("melbench")

#: Row statuses stored in the cache (failures are never cached).
CACHEABLE = ("ok", "skipped")
#: Environment variable that, when set, replaces the source fingerprint in cell keys
#: (e.g. after a reformatting that changes no number; tests pin it against concurrent edits).
CODE_VERSION_ENV = "MELBENCH_CODE_VERSION"
#: melbench modules whose source is part of every cell key (the numerical core).
CORE_MODULES = ("melbench.pipeline", "melbench.spec", "melbench.stft", "melbench.plugin",
                "melbench.validation")


class CacheEntryWarning(MelbenchWarning):
    """A cache entry is unreadable or does not belong where it is filed; it is recomputed."""


def _sha(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=256)
def _module_digest(module: str) -> str:
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = __import__(module, fromlist=["_"])
        except Exception:  # noqa: BLE001 - an unimportable module just has no digest
            return ""
    try:
        path = inspect.getsourcefile(mod)
        return _sha(Path(path).read_bytes()) if path else ""
    except (TypeError, OSError):
        return ""


def code_fingerprint(objects: Iterable[Any] = ()) -> str:
    """Hash of melbench's version, its numerical core and the modules defining ``objects``.

    Parameters
    ----------
    objects : iterable
        Plugin instances (or classes); the source of each one's module (and of its
        parent classes' modules) is hashed, so editing a plugin invalidates its cells.

    Returns
    -------
    str
        A hex digest. If the environment variable ``MELBENCH_CODE_VERSION`` is set,
        its value replaces the source hashes (melbench's version is still included).
    """
    pinned = os.environ.get(CODE_VERSION_ENV, "").strip()
    if pinned:
        return _sha(f"{__version__}\npinned:{pinned}")
    modules = set(CORE_MODULES)
    todo = list(objects)
    while todo:
        obj = todo.pop()
        cls = obj if isinstance(obj, type) else type(obj)
        for klass in cls.__mro__:
            if klass.__module__ not in ("builtins", "abc"):
                modules.add(klass.__module__)
        if not isinstance(obj, type) and hasattr(obj, "components"):
            todo.extend(obj.components())  # e.g. a chain's steps
    modules = _with_melbench_dependencies(modules)
    parts = [__version__] + [f"{m}:{_module_digest(m)}" for m in sorted(modules)]
    return _sha("\n".join(parts))


def _with_melbench_dependencies(modules: set[str]) -> set[str]:
    """Add, transitively, the melbench modules that ``modules`` use.

    Found through the objects in each module's namespace, so helpers such as
    ``melbench.phase._local`` count for the plugins that call them.
    """
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        mod = sys.modules.get(name)
        if mod is None or not name.startswith("melbench"):
            continue
        for value in vars(mod).values():
            dep = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
            if isinstance(dep, str) and dep.startswith("melbench") and dep not in seen:
                todo.append(dep)
    return seen


def _canonical(obj: Any) -> Any:
    """JSON-ready, order-independent form of a config value."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def cell_key(
    *,
    dataset: str,
    spec_key: str,
    inverter: str,
    phase: str,
    metrics: Iterable[str],
    seed: int,
    degrade: Any = None,
    trace: bool = False,
    code: str = "",
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Content key of a cell and the description it was computed from.

    Parameters
    ----------
    dataset, inverter, phase : str
        Canonical labels (sorted parameters).
    spec_key : str
        :meth:`FeatureSpec.key` (numerical fields only).
    metrics : iterable of str
        Metric labels; their order does not matter.
    seed : int
        Seed of the cell.
    degrade : any
        The degradation config or label (None for none).
    trace : bool
        Whether convergence traces are recorded (they are part of the row).
    code : str
        :func:`code_fingerprint` of the plugins.
    extra : mapping, optional
        Anything else that changes the numbers.

    Returns
    -------
    (key, description) : tuple
        A 24-hex-digit key and the JSON-ready mapping hashed.
    """
    desc = {
        "dataset": dataset, "spec_key": spec_key, "inverter": inverter, "phase": phase,
        "metrics": sorted(set(metrics)), "seed": int(seed), "degrade": _canonical(degrade),
        "trace": bool(trace), "melbench": __version__, "code": code,
        "extra": _canonical(dict(extra or {})),
    }
    return _sha(json.dumps(desc, sort_keys=True, default=str))[:24], desc


def clip_key(clip: Any) -> str:
    """Content key of a clip: its id, rate, samples (and precomputed mel, or load error)."""
    h = hashlib.sha256()
    h.update(f"{clip.id}\0{clip.sample_rate}\0{clip.error or ''}\0".encode())
    for arr in (clip.audio, clip.mel):
        if arr is None:
            h.update(b"-")
            continue
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


class RowCache:
    """The rows of one cell, one file per clip (see the module doc).

    Parameters
    ----------
    root : path or None
        Cache directory; None (or "") disables caching.
    key : str
        Cell key (:func:`cell_key`).
    description : mapping
        Written once to ``cell.json``.
    force : bool
        Ignore stored rows (recompute and overwrite).
    """

    def __init__(self, root: str | Path | None, key: str, description: Mapping[str, Any],
                 *, force: bool = False) -> None:
        self.key = key
        self.force = force
        self.dir = Path(root) / key if root not in (None, "") else None
        self.hits = 0
        self.misses = 0
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            info = self.dir / "cell.json"
            if not info.exists():
                atomic_write_bytes(info, json.dumps(dict(description), indent=1, sort_keys=True,
                                               default=str).encode())

    @property
    def enabled(self) -> bool:
        """True if rows are stored."""
        return self.dir is not None

    def get(self, clip: str, clip_id: str | None = None) -> dict[str, Any] | None:
        """The stored row of a clip key, after checking it belongs there.

        Parameters
        ----------
        clip : str
            The clip key (:func:`clip_key`).
        clip_id : str, optional
            The clip's id; the stored row must be that clip's.

        Returns
        -------
        dict or None
            None if absent, forced, not cacheable, unreadable or not matching its
            key, clip or digest (the last three with a :class:`CacheEntryWarning`:
            the clip is recomputed and the entry overwritten).
        """
        if self.dir is None or self.force:
            self.misses += 1
            return None
        path = self.dir / f"{clip}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            row = data["row"]
            if row.get("status") not in CACHEABLE:
                raise ValueError(f"status {row.get('status')!r} is not cacheable")
            problem = _entry_mismatch(data, self.key, clip, clip_id)
            if problem:
                raise ValueError(problem)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"cache entry {path} not used ({exc}); recomputing the clip"
            log.warning(msg)
            warnings.warn(msg, CacheEntryWarning, stacklevel=2)
            self.misses += 1
            return None
        self.hits += 1
        return dict(row)

    def audio(self, clip: str) -> Path | None:
        """The stored estimate wav of a clip key, if any."""
        if self.dir is None:
            return None
        p = self.dir / f"{clip}.wav"
        return p if p.is_file() else None

    def put(self, clip: str, row: Mapping[str, Any], audio_file: str | Path | None = None) -> bool:
        """Store a final row (and optionally a wav file); returns False if not cacheable."""
        if self.dir is None or row.get("status") not in CACHEABLE:
            return False
        if audio_file is not None and Path(audio_file).is_file():
            tmp = self.dir / f".{clip}.wav.tmp"
            shutil.copyfile(audio_file, tmp)
            os.replace(tmp, self.dir / f"{clip}.wav")
        plain = plain_row(row)
        entry = {"row": plain, "cell_key": self.key, "clip_key": clip,
                 "clip": str(plain.get("clip", "")), "digest": row_digest(plain)}
        text = json.dumps(entry, default=_json_default, allow_nan=True)
        atomic_write_bytes(self.dir / f"{clip}.json", text.encode())
        return True


def row_digest(row: Mapping[str, Any]) -> str:
    """Digest of a (plain) row, stored with it so an edited entry is recognised."""
    return _sha(json.dumps(dict(row), sort_keys=True, default=_json_default, allow_nan=True))[:24]


def _entry_mismatch(data: Mapping[str, Any], key: str, clip: str, clip_id: str | None) -> str:
    """Why a stored entry does not belong under (cell ``key``, clip key ``clip``); "" if it does."""
    row = data["row"]
    if data.get("cell_key") != key:
        return f"it records cell key {data.get('cell_key')!r}, but is filed under cell {key}"
    if row.get("cell_key") not in (None, key):
        return f"its row is of cell {row.get('cell_key')!r}, not of cell {key}"
    if data.get("clip_key") != clip:
        return f"it records clip key {data.get('clip_key')!r}, but is filed under clip key {clip}"
    if clip_id is not None and (str(row.get("clip")) != str(clip_id) or data.get("clip") != str(clip_id)):
        return f"its row is of clip {row.get('clip')!r}, not of clip {clip_id!r}"
    if data.get("digest") != row_digest(row):
        return "its row does not match its digest (the entry was edited or is damaged)"
    return ""


def plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as stored and read back (numpy scalars become Python ones).

    Fresh rows go through this too, so a cached row and a recomputed one are identical.
    """
    text = json.dumps(dict(row), default=_json_default, allow_nan=True)
    return json.loads(text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
