"""Result rows on disk: atomic writes, reading run directories, summary tables."""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .columns import BOOKKEEPING_COLUMNS, CELL_COLUMNS, CLIP_COLUMNS, ID_COLUMNS, STATUS_COLUMNS, TIME_COLUMNS
from .labels import split_top_level

ROWS_FILE = "rows.csv"
SUMMARY_FILE = "summary.md"

#: Columns shown first in summaries, in this order, when present.
PREFERRED_METRICS = (
    "sc_db", "sc_true_db", "mel_sc_db", "pesq_wb", "pesq_nb", "stoi", "estoi",
    "lsd_db", "mcd_db", "mel_lsd_db", "mel_mcd_db", *TIME_COLUMNS, "rtf",
)


_umask_lock = threading.Lock()


def _file_mode() -> int:
    """Permissions of a newly created regular file under the current umask (e.g. 0o644)."""
    with _umask_lock:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    A reader sees either the old file or the new one, never a partial write, even if the
    process is killed mid-way. The file gets the permissions of any new file under the
    process's umask (0644 with the usual umask 022), not the temporary file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def rows_to_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows (dicts) to a DataFrame with ID and status columns first."""
    df = pd.DataFrame(list(rows))
    first = [c for c in (*ID_COLUMNS, *CLIP_COLUMNS, *STATUS_COLUMNS) if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def write_rows(path: str | Path, rows: Sequence[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Write rows as CSV atomically (gzip-compressed if ``path`` ends in ``.gz``); returns the frame."""
    df = rows if isinstance(rows, pd.DataFrame) else rows_to_frame(rows)
    text = df.to_csv(index=False)
    if str(path).endswith(".gz"):
        import gzip

        atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write_text(path, text)
    return df


def read_rows(path: str | Path) -> pd.DataFrame:
    """Read a rows CSV written by :func:`write_rows` (text columns stay text; ``.gz`` too)."""
    df = pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"])
    for c in ("error", "notes"):
        if c in df.columns:
            df[c] = df[c].astype("object").fillna("").astype(str)
    return df


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric metric columns of a rows frame, preferred ones first."""
    skip = set(ID_COLUMNS) | set(CLIP_COLUMNS) | set(STATUS_COLUMNS) | set(BOOKKEEPING_COLUMNS)
    numeric = [
        c for c in df.columns
        if c not in skip and pd.api.types.is_numeric_dtype(df[c]) and not c.startswith("_")
    ]
    pref = [c for c in PREFERRED_METRICS if c in numeric]
    return pref + [c for c in numeric if c not in pref]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One line per cell (dataset, spec, degrade, inverter, phase): mean of each metric.

    Failed or skipped rows are counted (``n_ok``, ``n_failed``), not averaged.
    """
    if df.empty:
        return pd.DataFrame()
    keys = [c for c in CELL_COLUMNS if c in df.columns]
    metrics = metric_columns(df)
    ok = df[df["status"] == "ok"] if "status" in df else df
    g = df.groupby(keys, sort=False, dropna=False)
    out = g.size().rename("n").to_frame()
    out["n_ok"] = ok.groupby(keys, sort=False, dropna=False).size().reindex(out.index).fillna(0)
    out["n_ok"] = out["n_ok"].astype(int)
    out["n_failed"] = out["n"] - out["n_ok"]
    if metrics:
        means = ok.groupby(keys, sort=False, dropna=False)[metrics].mean()
        out = out.join(means)
    out = out.drop(columns="n").reset_index()
    return out


def _fmt_cell(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "-inf" if v < 0 else "inf"
        return f"{v:.4g}" if abs(v) < 0.01 and v != 0 else f"{v:.3f}"
    return str(v)


def to_markdown(df: pd.DataFrame) -> str:
    """Render a frame as a GitHub Markdown table (no extra dependency)."""
    if df.empty:
        return "(no rows)\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt_cell(v) for v in rec) + " |")
    return "\n".join(lines) + "\n"


def display_label(label: str, kind: str) -> str:
    """Shorten a canonical label to the parameters that differ from the plugin's defaults.

    ``lws[L=5,...,mode=music,...]`` becomes ``lws[mode=music]`` and an all-default label
    becomes the bare name. Labels that cannot be parsed, or whose plugin is not
    registered, are returned unchanged. Rows always keep the full canonical label.
    """
    import dataclasses

    from . import registry
    from .plugin import _fmt

    if not isinstance(label, str) or "[" not in label or not label.endswith("]"):
        return label
    name, body = label[:-1].split("[", 1)
    try:
        cls = registry.get(kind, name)
        defaults = {}
        for f in dataclasses.fields(cls.Params):
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = _fmt(f.default)
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                defaults[f.name] = _fmt(f.default_factory())  # type: ignore[misc]
        items = [i.split("=", 1) for i in split_top_level(body)]
    except Exception:  # noqa: BLE001 - display only; fall back to the full label
        return label
    if any(len(i) != 2 or i[0] not in defaults for i in items):
        return label
    kept = [f"{k}={v}" for k, v in items if defaults[k] != v]
    return f"{name}[{','.join(kept)}]" if kept else name


def summary_markdown(df: pd.DataFrame, title: str | None = None) -> str:
    """Summary table (plus failure reasons, if any) as Markdown.

    Plugin labels are shown with only their non-default parameters (see
    :func:`display_label`); ``rows.csv`` keeps the full canonical labels.
    """
    parts = []
    if title:
        parts.append(f"## {title}\n")
    summ = summarize(df)
    for kind, col in (("inverter", "inverter"), ("phase", "phase")):
        if col in summ.columns:
            summ[col] = [display_label(v, kind) for v in summ[col]]
    # constant columns (one dataset, one spec...) go to a caption line, not the table
    const = [c for c in CELL_COLUMNS if c in summ.columns and summ[c].nunique(dropna=False) == 1
             and len(summ) > 0]
    caption = ", ".join(
        f"{c}: {display_label(summ[c].iloc[0], c) if c == 'dataset' else summ[c].iloc[0]}"
        for c in const if c not in ("inverter", "phase")
    )
    shown = summ.drop(columns=[c for c in const if c not in ("inverter", "phase")])
    if caption:
        parts.append(caption + "\n")
    parts.append(to_markdown(shown))
    if "status" in df and (df["status"] != "ok").any():
        bad = df[df["status"] != "ok"]
        parts.append("\nNot scored:\n")
        parts.extend(_grouped_reasons(
            ((f"{r.status}: {r.error}", r.clip, _cell(r)) for r in bad.itertuples(index=False)),
            n_cells=len(summ),
        ))
    if "notes" in df and (df["notes"] != "").any():
        parts.append("\nNotes (missing values and their reasons):\n")
        notes = (
            (note, r.clip, _cell(r))
            for r in df[df["notes"] != ""].itertuples(index=False)
            for note in str(r.notes).split("; ") if note
        )
        parts.extend(_grouped_reasons(notes, n_cells=len(summ)))
    return "\n".join(parts).rstrip() + "\n"


def _cell(r: Any) -> str:
    return f"{display_label(r.inverter, 'inverter')} / {display_label(r.phase, 'phase')}"


def _grouped_reasons(items: Iterable[tuple[str, str, str]], n_cells: int) -> list[str]:
    """One line per distinct reason: which clips, and in which cells (or "every cell")."""
    groups: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for reason, clip, cell in items:
        clips, cells = groups.setdefault(reason, ({}, {}))
        clips[str(clip)] = None
        cells[cell] = None
    lines = []
    for reason, (clips, cells) in groups.items():
        where = "every cell" if len(cells) >= n_cells > 1 else (
            "; ".join(cells) if len(cells) <= 3 else f"{len(cells)} cells")
        lines.append(f"- {reason} — clips: {', '.join(clips)} ({where})")
    return lines
