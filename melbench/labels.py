"""The grammar of plugin labels, parsed in one place.

A plugin's canonical label (:attr:`melbench.plugin.Plugin.label`) is its name
followed, when it has parameters, by ``[k=v,...]`` with the parameters sorted by
name; values may themselves contain brackets and commas (a chain's steps,
lists). Rows, reports, comparisons and paper tables all read labels back with
the functions here.

Examples
--------
>>> parse_label("fgla[alpha=0.99,n_iter=100]")
('fgla', {'alpha': '0.99', 'n_iter': '100'})
>>> parse_label("chain[steps=pghi>fgla:100]")
('chain', {'steps': 'pghi>fgla:100'})
>>> plugin_name("lws[mode=music]")
'lws'
"""

from __future__ import annotations

__all__ = ["parse_label", "plugin_name", "split_top_level"]


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at each ``sep`` that is not inside square brackets.

    Parameters
    ----------
    text : str
        For example ``"a=1,b=[2,3]"``.
    sep : str
        A one-character separator.

    Returns
    -------
    list of str
        ``["a=1", "b=[2,3]"]`` for the example; ``[""]`` for an empty text.
    """
    out: list[str] = []
    depth, cur = 0, []
    for ch in text:
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        depth += ch == "["
        depth -= ch == "]"
        cur.append(ch)
    out.append("".join(cur))
    return out


def parse_label(label: str) -> tuple[str, dict[str, str]]:
    """Split a canonical label ``name[k=v,...]`` into its name and parameter texts.

    Parameters
    ----------
    label : str
        A canonical plugin label.

    Returns
    -------
    name : str
        The plugin name; the whole label if it is not of the form ``name[k=v,...]``
        (a custom label is kept whole, with no parameters).
    params : dict of str to str
        The parameter values as written in the label.
    """
    label = str(label)
    if not label.endswith("]") or "[" not in label:
        return label, {}
    name, body = label.split("[", 1)
    params: dict[str, str] = {}
    for item in split_top_level(body[:-1]):
        k, eq, v = item.partition("=")
        if not eq or not k.isidentifier():
            return label, {}
        params[k] = v
    return name, params


def plugin_name(label: str) -> str:
    """The plugin name of a label: ``"fgla[alpha=0.99,n_iter=200]"`` -> ``"fgla"``."""
    return str(label).split("[", 1)[0].strip()
