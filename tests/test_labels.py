"""The one label grammar (melbench.labels) against labels the plugins really make."""

from __future__ import annotations

import pytest

from melbench import registry
from melbench.labels import parse_label, plugin_name, split_top_level


def test_split_keeps_bracketed_commas() -> None:
    assert split_top_level("a=1,b=[2,3],c=x") == ["a=1", "b=[2,3]", "c=x"]
    assert split_top_level("") == [""]
    assert split_top_level("p>q:1>r", ">") == ["p", "q:1", "r"]


@pytest.mark.parametrize("label, want", [
    ("fgla[alpha=0.99,n_iter=100]", ("fgla", {"alpha": "0.99", "n_iter": "100"})),
    ("pinv", ("pinv", {})),
    ("chain[steps=pghi>fgla:100]", ("chain", {"steps": "pghi>fgla:100"})),
    ("x[sizes=[512,1024],k=2]", ("x", {"sizes": "[512,1024]", "k": "2"})),
    ("my custom [label]", ("my custom [label]", {})),  # not k=v pairs: kept whole
])
def test_parse_label(label: str, want: tuple) -> None:
    assert parse_label(label) == want


def test_round_trip_with_real_plugin_labels() -> None:
    """Every registered phase retriever's default label parses back to its name and params."""
    for name in registry.available("phase"):
        plugin = registry.create("phase", name)
        assert plugin_name(plugin.label) == name
        if name == "chain":  # a custom label, chain[raar:100>fgla:100]: kept whole
            assert parse_label(plugin.label) == (plugin.label, {})
            continue
        got_name, params = parse_label(plugin.label)
        assert got_name == name
        assert sorted(params) == sorted(plugin.param_dict())
