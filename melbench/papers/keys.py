"""Method keys and display names of plugin labels, for the paper tables.

A row's ``phase`` (or ``inverter``) column holds the plugin's canonical label
(:mod:`melbench.labels`). The reports group rows by a *method key*: the plugin
name, or for a ``chain`` the names of its steps joined by ``>``
(``chain[pghi>fgla:200:alpha=0.99]`` -> ``pghi>fgla``). A chain step is written
``NAME[:N_ITER][:KEY=VALUE]...`` (see :mod:`melbench.phase.chain`).
"""

from __future__ import annotations

from ..labels import parse_label, plugin_name, split_top_level

__all__ = ["DISPLAY", "chain_steps", "display", "display_params", "method_key", "n_iter_of"]

#: Display names of method keys (see :func:`method_key`).
DISPLAY: dict[str, str] = {
    "spsi": "SPSI", "pghi": "PGHI", "gla": "GLA", "fgla": "FGLA", "rtisi_la": "RTISI-LA",
    "pghi>gla": "PGHI then GLA", "pghi>fgla": "PGHI then FGLA", "agla": "AGLA", "raar": "RAAR",
    "dm": "DM", "lws": "LWS (melbench)", "pghi>raar": "PGHI then RAAR", "pghi>agla": "PGHI then AGLA",
    "raar>fgla": "RAAR then FGLA", "pghi>dm": "PGHI then DM", "dm>fgla": "DM then FGLA",
    "transpose": "transpose",
    "pinv": "pinv", "nnls": "nnls", "oracle": "true magnitude",
}


def chain_steps(label: str) -> list[tuple[str, str]]:
    """The steps of a ``chain[...]`` label as ``(name, n_iter)`` pairs (``n_iter`` ``""`` if unset).

    Parameters
    ----------
    label : str
        A chain's canonical label, e.g. ``"chain[dm:100>fgla:200:alpha=0.99]"``.

    Returns
    -------
    list of (str, str)
        ``[("dm", "100"), ("fgla", "200")]`` for the example; ``[]`` for any other label.
    """
    label = str(label)
    if plugin_name(label) != "chain" or not label.endswith("]") or "[" not in label:
        return []
    body = label.split("[", 1)[1][:-1]
    steps = []
    for step in split_top_level(body, ">"):
        parts = [p.strip() for p in split_top_level(step, ":")]
        if not parts or not parts[0]:
            continue
        n_iter = next((p for p in parts[1:] if p.isdigit()), "")
        steps.append((plugin_name(parts[0]), n_iter))
    return steps


def method_key(label: str) -> str:
    """A method key from a phase (or inverter) label.

    Chains become their step names joined by ``>``:
    ``"chain[pghi>fgla:200:init=zero]"`` -> ``"pghi>fgla"``; other labels their plugin name.
    """
    steps = chain_steps(label)
    if steps:
        return ">".join(name for name, _ in steps)
    return plugin_name(label)


def n_iter_of(label: str) -> str:
    """Total iterations stated in a phase label (``""`` if none).

    ``chain[pghi>fgla:200]`` -> ``"200"`` (the steps' counts summed);
    ``gla[init=zero,n_iter=200]`` -> ``"200"``.
    """
    steps = chain_steps(label)
    if steps:
        counts = [int(n) for _, n in steps if n]
        return str(sum(counts)) if counts else ""
    return parse_label(label)[1].get("n_iter", "")


def display(key: str) -> str:
    """Human-readable name of a method key (``"pghi>raar"`` -> ``"PGHI then RAAR"``)."""
    if key in DISPLAY:
        return DISPLAY[key]
    return " then ".join(DISPLAY.get(k, k) for k in key.split(">"))


def display_params(label: str) -> str:
    """A label's parameters only, or a chain's steps.

    ``agla[alpha=0.99,n_iter=300]`` -> ``alpha=0.99,n_iter=300``;
    ``chain[dm:100>fgla:200]`` -> ``dm:100>fgla:200``; a label without parameters whole.
    """
    label = str(label)
    name, params = parse_label(label)
    if params or chain_steps(label):
        return label[len(plugin_name(label)) + 1:-1]
    return label
