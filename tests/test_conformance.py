"""The conformance suite, parametrised over every registered plugin of each kind."""

from __future__ import annotations

import pytest

from melbench import registry
from melbench.testing import CHECKS, Declined, check_plugin


def _cases():
    for kind in CHECKS:
        for name, info in registry.discover()[kind].items():
            if info.available:
                yield pytest.param(kind, name, id=f"{kind}-{name}")


@pytest.mark.parametrize(("kind", "name"), list(_cases()))
def test_plugin_conformance(kind, name):
    try:
        check_plugin(kind, name)
    except Declined as exc:
        pytest.skip(str(exc))


def test_builtin_plugins_all_import():
    """Every plugin melbench itself declares must be importable (no broken built-ins)."""
    broken = {
        f"{kind}/{name}": info.error
        for kind, plugins in registry.discover().items()
        for name, info in plugins.items()
        if info.distribution == "melbench" and not info.available
    }
    assert not broken, broken
