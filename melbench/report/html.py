"""A static, self-contained HTML report: tables, figures and audio players.

The page needs no script and no network: figures and audio files are copied
next to ``index.html`` (``audio/``) and referenced by relative paths, so the
report folder can be zipped, served or opened from disk.

The listening section shows, per clip, the reference and each cell's output, each with
its player, the clip's scores for that cell (the row's metric values) and a
log-magnitude spectrogram image of what is played, all drawn on one colour scale per
clip, so the reference and the outputs compare at a glance. The players' files are
32-bit float WAV (:data:`AUDIO_SUBTYPE`), whatever the run saved.

Long plugin labels are wrapped at their separators
(:func:`melbench.report.render.wrap_label`) and wide tables scroll inside their own box,
so the page itself never overflows its width.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results import atomic_write_bytes
from .render import (
    LABEL_COLUMNS,
    LABEL_WIDTH,
    cell_label,
    display_labels,
    fmt_num,
    group_title,
    label_notes,
    short_labels,
    wide,
    wrap_label,
)
from .runs import RUN_DIR_COLUMN
from .tables import groups

#: soundfile subtype of the players' WAV files (32-bit float: no clipping, no 16-bit noise).
AUDIO_SUBTYPE = "FLOAT"
#: Dynamic range of the spectrogram images below each clip's loudest bin (dB).
SPECTROGRAM_RANGE_DB = 80.0

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; }
td.label { text-align: left; font-family: monospace; white-space: nowrap; }
code { overflow-wrap: anywhere; }
div.wide { max-width: 100%; overflow-x: auto; }
td.scores { text-align: left; font-size: 0.9em; white-space: nowrap; }
img.spec { display: block; height: 110px; border: 1px solid #ddd; }
td.best { font-weight: bold; background: #e6f4e6; }
.note { color: #555; font-size: 0.9em; }
.warn { color: #8a5300; }
figure { display: inline-block; margin: 0.5em; max-width: 100%; }
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
    #: Per estimate (same order): ``{metric: value}`` of the row whose audio it is.
    scores: list[dict[str, float]] = field(default_factory=list)


def find_audio(rows: pd.DataFrame, *, max_clips: int = 3,
               metrics: Sequence[str] = ()) -> list[AudioClip]:
    """Saved audio (``save_audio`` runs) for up to ``max_clips`` clips per group.

    Parameters
    ----------
    rows : pandas.DataFrame
        Loaded rows with :data:`~melbench.report.runs.RUN_DIR_COLUMN`.
    max_clips : int
        Clips per (dataset, spec, degrade) group.
    metrics : sequence of str
        Metric columns whose values (of the row the audio belongs to: the lowest seed)
        go into :attr:`AudioClip.scores`; missing or non-finite values are left out.

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
                    item.scores.append(_scores(r, metrics))
            if item.estimates:
                out.append(item)
                n += 1
    return out


def _scores(row: Mapping[str, Any], metrics: Sequence[str]) -> dict[str, float]:
    out = {}
    for m in metrics:
        try:
            v = float(row.get(m))
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            out[m] = v
    return out


def _label_html(text: str) -> str:
    """A label escaped and wrapped at its separators (``<br>`` between the pieces)."""
    return "<br>".join(html.escape(p) for p in wrap_label(text, LABEL_WIDTH))


def write_float_wav(src: Path, dst: Path) -> tuple[np.ndarray, int, str]:
    """Copy a WAV as 32-bit float (:data:`AUDIO_SUBTYPE`), atomically.

    Returns
    -------
    (audio, sample_rate, source_subtype)
        The samples as float32 (``(n,)`` or ``(n, channels)``), the rate and the
        subtype of ``src`` (``PCM_16`` for runs saved before float WAVs).
    """
    import io

    import soundfile as sf

    info = sf.info(str(src))
    y, sr = sf.read(str(src), dtype="float32", always_2d=False)
    buf = io.BytesIO()
    sf.write(buf, y, sr, subtype=AUDIO_SUBTYPE, format="WAV")
    atomic_write_bytes(dst, buf.getvalue())
    return y, int(sr), str(info.subtype)


def log_spectrogram(y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float, float]:
    """Log-magnitude STFT (dB re 1) of mono-mixed audio for the listening images.

    About 32 ms Hann frames (a power of two), hop a quarter frame.

    Returns
    -------
    (db, n_fft, hop_seconds)
        ``db`` has shape ``(n_fft // 2 + 1, frames)``.
    """
    from scipy.signal import stft

    x = np.asarray(y, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    n_fft = int(2 ** round(math.log2(max(64, 0.032 * sample_rate))))
    _, _, z = stft(x, fs=sample_rate, window="hann", nperseg=n_fft, noverlap=n_fft - n_fft // 4,
                   boundary="even", padded=True)
    db = 20.0 * np.log10(np.maximum(np.abs(z), 1e-10))
    return db, float(n_fft), n_fft / 4 / sample_rate


def spectrogram_png(db: np.ndarray, sample_rate: int, hop_s: float, path: Path, *,
                    top_db: float) -> Path:
    """Write one spectrogram image (colour scale ``[top_db - SPECTROGRAM_RANGE_DB, top_db]``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 1.5), dpi=80)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
              vmin=top_db - SPECTROGRAM_RANGE_DB, vmax=top_db,
              extent=(0.0, db.shape[1] * hop_s, 0.0, sample_rate / 2000.0))
    ax.set_xlabel("s", fontsize=6, labelpad=1)
    ax.set_ylabel("kHz", fontsize=6, labelpad=1)
    ax.tick_params(labelsize=6, length=2, pad=1)
    fig.tight_layout(pad=0.2)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _scores_html(scores: Mapping[str, float], directions: Mapping[str, str]) -> str:
    if not scores:
        return '<td class="scores"></td>'
    items = []
    for m, v in scores.items():
        arrow = {"lower": " ↓", "higher": " ↑"}.get(directions.get(m, ""), "")
        items.append(f'<span class="score" data-metric="{html.escape(m, quote=True)}" '
                     f'data-value="{v!r}">{html.escape(m)}{arrow} {html.escape(fmt_num(v))}</span>')
    return '<td class="scores">' + "<br>".join(items) + "</td>"


def _listen_html(out_dir: Path, audio: Sequence[AudioClip],
                 directions: Mapping[str, str]) -> list[str]:
    """The listening section: per clip a table of players, scores and spectrograms."""
    esc = html.escape
    parts = ['<h2 id="listen">Listen</h2>',
             '<p class="note">Each line: the player, the clip\'s scores for that cell and the '
             f"spectrogram of what is played (dB, one colour scale per clip, "
             f"{SPECTROGRAM_RANGE_DB:g} dB range below the reference's loudest bin). "
             "The files are 32-bit float WAV.</p>"]
    adir = out_dir / "audio"
    adir.mkdir(exist_ok=True)
    for i, item in enumerate(audio):
        parts.append(f"<h3>{esc(item.clip)}</h3><p class=\"note\">{esc(item.group)}</p>")
        players: list[tuple[str, Path, dict[str, float] | None, str]] = []
        if item.reference:
            players.append(("reference", item.reference, None, f"c{i}_ref"))
        players += [(lab, p, sc, f"c{i}_m{j}") for j, ((lab, p), sc) in enumerate(
            zip(item.estimates, item.scores or [{}] * len(item.estimates), strict=True), start=1)]
        loaded = []
        for label, src, scores, stem in players:
            y, sr, subtype = write_float_wav(src, adir / f"{stem}.wav")
            db, _n_fft, hop_s = log_spectrogram(y, sr)
            loaded.append((label, scores, stem, sr, subtype, db, hop_s))
        # one colour scale per clip: from the reference's loudest bin (else the players')
        top = float(loaded[0][5].max()) if item.reference else max(float(x[5].max()) for x in loaded)
        parts.append('<table class="audio"><thead><tr><th>cell</th><th>listen</th><th>scores'
                     '</th><th>spectrogram</th></tr></thead><tbody>')
        for label, scores, stem, sr, subtype, db, hop_s in loaded:
            spectrogram_png(db, sr, hop_s, adir / f"{stem}.png", top_db=top)
            kind = "reference" if scores is None else "estimate"
            note = "" if subtype.startswith(("FLOAT", "DOUBLE")) else (
                f'<br><span class="note">saved by the run as {esc(subtype)}</span>')
            parts.append(
                f'<tr class="player {kind}" data-label="{esc(label, quote=True)}">'
                f'<td class="label">{_label_html(label)}{note}</td>'
                f'<td><audio controls preload="none" src="audio/{stem}.wav"></audio></td>'
                + (_scores_html(scores, directions) if scores is not None
                   else '<td class="scores">reference</td>')
                + f'<td><img class="spec" src="audio/{stem}.png" '
                  f'alt="spectrogram of {esc(item.clip, quote=True)}: {esc(label, quote=True)}">'
                  "</td></tr>")
        parts.append("</tbody></table>")
    return parts


def _table_html(part: pd.DataFrame, group: str, labels: dict[str, str]) -> str:
    w = wide(part, mark=("\0B", "\0E"), labels=labels)
    cols = list(w.columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for rec in w.itertuples(index=False):
        tds = []
        for c, v in zip(cols, rec, strict=True):
            text = str(v)
            cls = "label" if c in LABEL_COLUMNS else ""
            if text.startswith("\0B"):
                text, cls = text[2:-2], "best"
            attr = f' class="{cls}"' if cls else ""
            body_text = _label_html(text) if cls == "label" else html.escape(text)
            tds.append(f"<td{attr}>{body_text}</td>")
        inv, ph = html.escape(str(rec[0]), quote=True), html.escape(str(rec[1]), quote=True)
        body.append(f'<tr data-inverter="{inv}" data-phase="{ph}">{"".join(tds)}</tr>')
    g = html.escape(group, quote=True)
    return (f'<div class="wide"><table class="results" data-group="{g}"><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


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
        directions = dict(zip(stats["metric"], stats["better"], strict=False)) if len(stats) else {}
        parts += _listen_html(out_dir, audio, directions)
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
