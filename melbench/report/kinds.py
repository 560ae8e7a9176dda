"""Per-kind and per-source tables: statistics within groups of clips, inapplicable metrics left out.

issue 14 item 5. Speech metrics say nothing about music: they are left out of a kind's
table (with the reason), not averaged in. A metric plugin may declare the kinds it applies
to with a ``kinds`` class attribute (``{column: (kind, ...)}``); otherwise the rules of
:data:`SPEECH_ONLY` and :data:`NON_SPEECH_ONLY` apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .render import display_labels, group_title, label_notes, md_table, wide
from .tables import (
    SC_AGGREGATION_NOTE,
    SC_LINEAR_SUFFIX,
    cell_stats,
    groups,
    select_metrics,
    with_sc_linear,
)

#: Clip kinds the report knows (others are reported under their own name).
KINDS = ("speech", "music", "other")
#: Column prefixes of metrics that only apply to speech, with the reason.
SPEECH_ONLY = {
    "pesq": "PESQ models telephone-band speech perception (ITU-T P.862); not valid on music",
    "stoi": "STOI measures speech intelligibility; meaningless on music",
    "estoi": "ESTOI measures speech intelligibility; meaningless on music",
    "dnsmos": "DNSMOS is trained on speech only",
    "distillmos": "distillmos is trained on speech only",
    "f0_": "F0 RMSE needs a single voiced pitch (speech)",
    "vuv": "V/UV error needs voiced/unvoiced speech frames",
    "mcd_world": "WORLD mel-cepstral distortion models a speech source-filter",
    "visqol_speech": "ViSQOL speech mode is for speech; music uses audio mode",
}
#: Column prefixes of metrics that do not apply to speech.
NON_SPEECH_ONLY = {
    "visqol_audio": "ViSQOL audio mode is the music/general-audio model; speech uses speech mode",
}


def declared_kinds() -> dict[str, tuple[str, ...]]:
    """``{column: kinds}`` declared by installed metric plugins (``kinds`` class attribute)."""
    out: dict[str, tuple[str, ...]] = {}
    try:
        from .. import registry

        for info in registry.discover()["metric"].values():
            if info.available and info.cls is not None:
                for col, kinds in (getattr(info.cls, "kinds", None) or {}).items():
                    out[col] = tuple(kinds)
    except Exception:  # noqa: BLE001 - a broken registry must not break a report
        pass
    return out


def applies(metric: str, kind: str, declared: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """Why ``metric`` does not apply to clips of ``kind`` ("" when it applies).

    Parameters
    ----------
    metric : str
        Metric column (an ``@lin`` column follows its dB column).
    kind : str
        Clip kind (speech, music, other...).
    declared : mapping, optional
        Kinds declared by the metric plugins (default :func:`declared_kinds`).
    """
    declared = declared_kinds() if declared is None else declared
    base = metric.removesuffix(SC_LINEAR_SUFFIX)
    if base in declared:
        return "" if kind in declared[base] else f"declared for {', '.join(declared[base])} only"
    for prefix, reason in SPEECH_ONLY.items():
        if base.startswith(prefix) and kind != "speech":
            return reason
    for prefix, reason in NON_SPEECH_ONLY.items():
        if base.startswith(prefix) and kind == "speech":
            return reason
    return ""


def grouped_stats(
    df: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str] | None = None,
    *,
    sc_linear: bool = True,
    **kw: Any,
) -> tuple[pd.DataFrame, dict[tuple[str, ...], list[tuple[str, str]]]]:
    """Cell statistics within each group of clips (by kind, by source...).

    Parameters
    ----------
    df : pandas.DataFrame
        Result rows with the ``by`` columns (``kind``, ``source``).
    by : sequence of str
        Clip columns to group by; when ``kind`` is among them, metrics that do not
        apply to the group's kind (see :func:`applies`) are left out.
    metrics : sequence of str, optional
        Metric columns (default: all).
    sc_linear : bool
        Add the dB of the mean linear SC (:func:`with_sc_linear`).
    **kw
        Bootstrap settings of :func:`cell_stats`.

    Returns
    -------
    stats : pandas.DataFrame
        The long table with the ``by`` columns first.
    excluded : dict
        ``{group values: [(metric, reason), ...]}`` for the metrics left out.
    """
    by = list(by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise KeyError(f"rows have no {missing} column(s) to group by; columns: {list(df.columns)[:15]}")
    metrics = select_metrics(df, metrics)
    declared = declared_kinds()
    parts, excluded = [], {}
    work = df.copy()
    for c in by:
        work[c] = work[c].astype(object).where(work[c].notna(), "").astype(str)
    for key, g in work.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        st = cell_stats(g, metrics, **kw)
        if sc_linear:
            st = with_sc_linear(st, g, **{k: v for k, v in kw.items() if k in ("level", "n_boot", "seed")})
        if "kind" in by:
            kind = key[by.index("kind")]
            drop = {m: applies(m, kind, declared) for m in dict.fromkeys(st["metric"])}
            drop = {m: r for m, r in drop.items() if r}
            if drop:
                excluded[key] = [(m, r) for m, r in drop.items() if not m.endswith(SC_LINEAR_SUFFIX)]
                st = st[~st["metric"].isin(list(drop))]
        for c, v in zip(by, key, strict=True):
            st.insert(by.index(c), c, v)
        parts.append(st)
    stats = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return stats, excluded


def grouped_markdown(
    stats: pd.DataFrame,
    by: Sequence[str],
    excluded: Mapping[tuple[str, ...], Sequence[tuple[str, str]]],
    *,
    title: str,
) -> str:
    """Markdown of :func:`grouped_stats`: one table per group, with the metrics left out and why."""
    parts = [f"# {title}\n", "Mean [95% bootstrap CI] over clips; **bold** = best in column; "
             "↓ lower is better, ↑ higher is better.\n", SC_AGGREGATION_NOTE + "\n"]
    if stats.empty:
        return "\n".join(parts) + "(no rows)\n"
    labels = display_labels(stats)
    for key, g in stats.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        head = ", ".join(f"{c}: {v}" for c, v in zip(by, key, strict=True))
        for group, part in groups(g.drop(columns=list(by))):
            parts.append(f"\n## {head} ({group_title(group)})\n")
            parts.append(md_table(wide(part, mark=("**", "**"), labels=labels)))
        gone = excluded.get(key, [])
        if gone:
            parts.append("Left out of this table (not averaged in):\n")
            parts.extend(f"- `{m}`: {r}" for m, r in gone)
            parts.append("")
    notes = label_notes(labels)
    if notes:
        parts.append("\nParameters shared by every cell of a method are left out of the table:\n")
        parts.extend(f"- `{short}` = `{full}`" for short, full in notes)
    return "\n".join(parts) + "\n"
