"""A static, self-contained HTML report: tables, figures and audio players.

The page needs no script and no network: figures and audio files are copied
next to ``index.html`` (``audio/``) and referenced by relative paths, so the
report folder can be zipped, served or opened from disk.
"""

from __future__ import annotations

import datetime as _dt
import html
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .runs import RUN_DIR_COLUMN
from .tables import (
    cell_label,
    display_labels,
    group_title,
    groups,
    label_notes,
    short_labels,
    wide,
)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; }
td.label { text-align: left; font-family: monospace; }
td.best { font-weight: bold; background: #e6f4e6; }
.note { color: #555; font-size: 0.9em; }
.warn { color: #8a5300; }
figure { display: inline-block; margin: 0.5em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
audio { width: 240px; }
"""


@dataclass
class AudioClip:
    """Players for one clip of one group: the reference and each cell's estimate."""

    group: str
    clip: str
    reference: Path | None
    estimates: list[tuple[str, Path]] = field(default_factory=list)


def find_audio(rows: pd.DataFrame, *, max_clips: int = 3) -> list[AudioClip]:
    """Saved audio (``save_audio`` runs) for up to ``max_clips`` clips per group.

    Parameters
    ----------
    rows : pandas.DataFrame
        Loaded rows with :data:`~melbench.report.runs.RUN_DIR_COLUMN`.
    max_clips : int
        Clips per (dataset, spec, degrade) group.

    Returns
    -------
    list of AudioClip
        Only clips with at least one saved estimate.
    """
    from ..runner import audio_paths

    if rows.empty or RUN_DIR_COLUMN not in rows.columns or max_clips <= 0:
        return []
    out: list[AudioClip] = []
    labels = short_labels(sorted(set(rows["inverter"].astype(str)) | set(rows["phase"].astype(str))))
    gcols = [c for c in ("dataset", "spec", "degrade") if c in rows.columns]
    for key, g in rows.groupby(gcols, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        title = group_title(dict(zip(gcols, map(str, key), strict=True)))
        n = 0
        for clip in dict.fromkeys(g["clip"].astype(str)):
            if n >= max_clips:
                break
            item = AudioClip(group=title, clip=clip, reference=None)
            seen: set[tuple[str, str]] = set()
            c = g[g["clip"].astype(str) == clip].sort_values(
                "seed" if "seed" in g.columns else "clip", kind="stable")
            for r in c.to_dict("records"):
                est, ref = audio_paths(r[RUN_DIR_COLUMN], clip)
                if item.reference is None and ref.is_file():
                    item.reference = ref
                cell = (str(r["inverter"]), str(r["phase"]))
                if cell not in seen and est.is_file():
                    seen.add(cell)
                    item.estimates.append((cell_label(*cell, labels), est))
            if item.estimates:
                out.append(item)
                n += 1
    return out


def _table_html(part: pd.DataFrame, group: str, labels: dict[str, str]) -> str:
    w = wide(part, mark=("\0B", "\0E"), labels=labels)
    cols = list(w.columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for rec in w.itertuples(index=False):
        tds = []
        for c, v in zip(cols, rec, strict=True):
            text = str(v)
            cls = "label" if c in ("inverter", "phase") else ""
            if text.startswith("\0B"):
                text, cls = text[2:-2], "best"
            attr = f' class="{cls}"' if cls else ""
            tds.append(f"<td{attr}>{html.escape(text)}</td>")
        inv, ph = html.escape(str(rec[0]), quote=True), html.escape(str(rec[1]), quote=True)
        body.append(f'<tr data-inverter="{inv}" data-phase="{ph}">{"".join(tds)}</tr>')
    g = html.escape(group, quote=True)
    return (f'<table class="results" data-group="{g}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def write_html(
    out_dir: str | Path,
    stats: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    figures: Sequence[Path] = (),
    audio: Sequence[AudioClip] = (),
    sources: Sequence[str] = (),
    warnings: Sequence[str] = (),
    title: str = "melbench report",
) -> Path:
    """Write ``index.html`` (plus copied audio) into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Report folder; figures are expected inside it already.
    stats : pandas.DataFrame
        Long statistics table (:func:`~melbench.report.tables.cell_stats`).
    rows : pandas.DataFrame
        The rows (for the list of clips that were not scored).
    figures : sequence of Path
        PNG files inside ``out_dir``.
    audio : sequence of AudioClip
        Players to show; their files are copied to ``out_dir/audio``.
    sources : sequence of str
        Run directories (shown in the header).
    warnings : sequence of str
        Shown at the top (incomplete runs...).
    title : str
        Page title.

    Returns
    -------
    Path
        The ``index.html`` written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>", '<link rel="icon" href="data:,">',
        f"<style>{_CSS}</style></head><body>", f"<h1>{esc(title)}</h1>",
        f'<p class="note">Generated {now} from: {esc(", ".join(map(str, sources)))}</p>',
    ]
    if warnings:
        parts.append('<ul class="warn">' + "".join(f"<li>{esc(w)}</li>" for w in warnings)
                     + "</ul>")
    parts.append('<h2 id="tables">Tables</h2><p class="note">Mean [95% bootstrap CI] over clips '
                 "(seeds averaged per clip); best value per column highlighted; "
                 "↓ lower is better, ↑ higher is better.</p>")
    if stats.empty:
        parts.append("<p>(no rows)</p>")
    labels = display_labels(stats)
    for group, part in groups(stats):
        t = group_title(group)
        parts.append(f"<h3>{esc(t)}</h3>")
        parts.append(_table_html(part, t, labels))
    notes = label_notes(labels)
    if notes:
        parts.append('<p class="note">Parameters shared by every cell of a method are left out '
                     "of the tables:</p><ul class=\"note\">" + "".join(
                         f"<li><code>{esc(a)}</code> = <code>{esc(b)}</code></li>"
                         for a, b in notes) + "</ul>")
    if figures:
        parts.append('<h2 id="figures">Figures</h2>')
        for f in figures:
            rel = Path(f).relative_to(out_dir).as_posix()
            parts.append(f'<figure><img src="{esc(rel, quote=True)}" alt="{esc(Path(f).stem)}">'
                         f"<figcaption>{esc(Path(f).stem)}</figcaption></figure>")
    if audio:
        parts.append('<h2 id="listen">Listen</h2>')
        adir = out_dir / "audio"
        adir.mkdir(exist_ok=True)
        for i, item in enumerate(audio):
            parts.append(f"<h3>{esc(item.clip)}</h3><p class=\"note\">{esc(item.group)}</p>")
            parts.append('<table class="audio"><tbody>')
            players = [("reference", item.reference)] if item.reference else []
            players += list(item.estimates)
            for j, (label, src) in enumerate(players):
                assert src is not None
                name = f"c{i}_{'ref' if label == 'reference' and j == 0 else f'm{j}'}.wav"
                shutil.copyfile(src, adir / name)
                parts.append(f'<tr><td class="label">{esc(label)}</td><td><audio controls '
                             f'preload="none" src="audio/{name}"></audio></td></tr>')
            parts.append("</tbody></table>")
    if "status" in rows.columns and (rows["status"] != "ok").any():
        bad = rows[rows["status"] != "ok"]
        parts.append('<h2 id="failures">Not scored</h2><ul>')
        for r in bad.itertuples(index=False):
            parts.append(f"<li>{esc(str(r.clip))} [{esc(str(r.inverter))} / {esc(str(r.phase))}]"
                         f" {esc(str(r.status))}: {esc(str(getattr(r, 'error', '')))}</li>")
        parts.append("</ul>")
    parts.append("</body></html>\n")
    path = out_dir / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
