"""The data files of the paper reproductions: ``<experiment>/paper.yaml`` and ``references.yaml``.

Each reproduction's folder holds its code (``experiment.py``) and its data
(``paper.yaml``): title, citations, summary, both set-ups, the plugins it needs, the
published table with where it is printed (or why it is marked unverified), the
discussion and named notes. ``references.yaml`` holds every cited work once, by key.
Files are validated when loaded: a missing, misspelled or mistyped key is an
:class:`~melbench.errors.InputError` naming the file and the key.

Schema of ``paper.yaml`` (``?`` marks optional keys)::

    name: str                 # = the folder name = conf/experiment/<name>.yaml
    title: str
    citations: [str]          # keys of references.yaml
    summary: str
    paper_setup: [str]        # what was checked in the paper / the authors' code
    melbench_setup: [str]     # the set-up of the committed run
    needs: {kind: [plugin]}   # kinds: inverter, phase, metric, dataset, degradation
    discussion: str           # Markdown list
    published?:               # the paper's numbers beside melbench's
      source: str             # where they come from, as shown under the table
      verified: bool          # read in the paper itself?
      where?: str             # table / figure and page (required when verified)
      columns: [str]          # what each number is
      rows: {key: [number]}   # one number per column
    notes?: {str: str}        # named prose pieces the experiment's code shows
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

__all__ = ["Paper", "Published", "load_paper", "load_references", "parse_paper"]

PAPER_FILE = "paper.yaml"
REFERENCES_FILE = "references.yaml"
PLUGIN_KINDS = ("inverter", "phase", "metric", "dataset", "degradation")


@dataclass(frozen=True)
class Published:
    """A published table: method key (or setting) -> numbers, one per column."""

    source: str
    verified: bool
    columns: tuple[str, ...]
    rows: dict[Any, tuple[float, ...]]
    where: str = ""

    def column(self, name: str) -> dict[Any, float]:
        """One column as ``{key: value}``."""
        i = self.columns.index(name)
        return {k: v[i] for k, v in self.rows.items()}


@dataclass(frozen=True)
class Paper:
    """The validated content of one ``paper.yaml`` (citations resolved to their text)."""

    name: str
    title: str
    citations: tuple[str, ...]
    summary: str
    paper_setup: tuple[str, ...]
    melbench_setup: tuple[str, ...]
    needs: dict[str, list[str]]
    discussion: str
    published: Published | None = None
    notes: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def table(self) -> Published:
        """The published table; an error naming the file if it has none."""
        if self.published is None:
            raise InputError(f"{self.path}: missing key 'published' (this reproduction "
                             "compares with a published table)")
        return self.published

    def note(self, key: str) -> str:
        """A named note; an error naming the file and the key if it is missing."""
        if key not in self.notes:
            raise InputError(f"{self.path}: notes: missing key {key!r} "
                             f"(has: {', '.join(self.notes) or 'none'})")
        return self.notes[key]


def _load_yaml(path: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None


def _check_keys(path: str, where: str, data: Any, required: Mapping[str, type | tuple],
                optional: Mapping[str, type | tuple] = {}) -> None:  # noqa: B006 - read only
    prefix = f"{path}: {where + ': ' if where else ''}"
    if not isinstance(data, Mapping):
        raise InputError(f"{prefix}expected a mapping, got {type(data).__name__}")
    known = {**required, **optional}
    for key in data:
        if key not in known:
            raise InputError(f"{prefix}unknown key {key!r}; allowed: {', '.join(known)}")
    for key in required:
        if key not in data:
            raise InputError(f"{prefix}missing key {key!r}")
    for key, typ in known.items():
        if key in data and not isinstance(data[key], typ):
            names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise InputError(f"{prefix}key {key!r} must be a {names}, "
                             f"got {type(data[key]).__name__}")


def _str_list(path: str, key: str, value: list) -> tuple[str, ...]:
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"{path}: {key}[{i}] must be a non-empty string, got {item!r}")
    return tuple(value)


def _published(path: str, data: Mapping) -> Published:
    _check_keys(path, "published", data,
                {"source": str, "verified": bool, "columns": list, "rows": dict},
                {"where": str})
    if data["verified"] and not data.get("where", "").strip():
        raise InputError(f"{path}: published: missing key 'where' (table and page), "
                         "required when verified is true")
    columns = _str_list(path, "published: columns", data["columns"])
    rows: dict[Any, tuple[float, ...]] = {}
    for key, values in data["rows"].items():
        ok = isinstance(values, list) and len(values) == len(columns) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not ok:
            raise InputError(f"{path}: published: rows: key {key!r} must be a list of "
                             f"{len(columns)} numbers (one per column: {', '.join(columns)}), "
                             f"got {values!r}")
        rows[key] = tuple(float(v) for v in values)
    return Published(source=data["source"], verified=data["verified"], columns=columns,
                     rows=rows, where=data.get("where", ""))


def parse_paper(path: str, text: str, references: Mapping[str, str], *,
                expected_name: str | None = None) -> Paper:
    """Validate the text of a ``paper.yaml`` and build its :class:`Paper`.

    Parameters
    ----------
    path : str
        Shown in every error message.
    text : str
        The YAML text.
    references : mapping of str to str
        Citation key -> citation text (``references.yaml``).
    expected_name : str, optional
        The folder name, which ``name`` must equal.

    Raises
    ------
    InputError
        Naming the file and the key: invalid YAML, a missing, unknown or mistyped key, an
        unknown citation key or plugin kind, a published row of the wrong length.
    """
    data = _load_yaml(path, text)
    _check_keys(path, "", data,
                {"name": str, "title": str, "citations": list, "summary": str,
                 "paper_setup": list, "melbench_setup": list, "needs": dict, "discussion": str},
                {"published": dict, "notes": dict})
    if expected_name is not None and data["name"] != expected_name:
        raise InputError(f"{path}: key 'name' is {data['name']!r}, but the folder is "
                         f"{expected_name!r} (they must be equal)")
    cites = []
    for key in _str_list(path, "citations", data["citations"]):
        if key not in references:
            raise InputError(f"{path}: citations: unknown reference key {key!r}; "
                             f"{REFERENCES_FILE} has: {', '.join(references)}")
        cites.append(references[key])
    needs: dict[str, list[str]] = {}
    for kind, names in data["needs"].items():
        if kind not in PLUGIN_KINDS:
            raise InputError(f"{path}: needs: unknown plugin kind {kind!r}; "
                             f"allowed: {', '.join(PLUGIN_KINDS)}")
        if not isinstance(names, list):
            raise InputError(f"{path}: needs: key {kind!r} must be a list of plugin names")
        needs[kind] = list(_str_list(path, f"needs: {kind}", names))
    notes = data.get("notes") or {}
    for key, value in notes.items():
        if not isinstance(value, str):
            raise InputError(f"{path}: notes: key {key!r} must be a string, "
                             f"got {type(value).__name__}")
    return Paper(
        name=data["name"], title=data["title"].strip(), citations=tuple(cites),
        summary=data["summary"].strip(),
        paper_setup=_str_list(path, "paper_setup", data["paper_setup"]),
        melbench_setup=_str_list(path, "melbench_setup", data["melbench_setup"]),
        needs=needs, discussion=data["discussion"].rstrip() + "\n",
        published=_published(path, data["published"]) if "published" in data else None,
        notes={str(k): v.strip() for k, v in notes.items()}, path=path,
    )


def parse_references(path: str, text: str) -> dict[str, str]:
    """Validate ``references.yaml`` (key -> non-empty citation text)."""
    data = _load_yaml(path, text)
    if not isinstance(data, Mapping) or not data:
        raise InputError(f"{path}: expected a mapping of reference keys to citation texts")
    out = {}
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{path}: key {key!r} must be a non-empty citation string")
        out[str(key)] = " ".join(value.split())
    return out


def _read(package: str, name: str) -> tuple[str, str]:
    res = resources.files(package).joinpath(name)
    if not res.is_file():
        raise InputError(f"{package.replace('.', '/')}/{name}: file missing from the "
                         "installed package (reinstall melbench)")
    return str(Path(str(res))), res.read_text(encoding="utf-8")


@cache
def load_references() -> dict[str, str]:
    """Every cited work, by key (``melbench/papers/references.yaml``)."""
    return parse_references(*_read(__package__, REFERENCES_FILE))


@cache
def load_paper(name: str) -> Paper:
    """The validated ``paper.yaml`` of the reproduction ``name`` (``melbench/papers/<name>/``)."""
    path, text = _read(f"{__package__}.{name}", PAPER_FILE)
    return parse_paper(path, text, load_references(), expected_name=name)
