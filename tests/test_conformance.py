"""The conformance suite, parametrised over every registered plugin of each kind."""

from __future__ import annotations

import pytest

from melbench import registry
from melbench.errors import MelbenchError, ParameterError
from melbench.testing import CHECKS, Declined, check_framings, check_plugin


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


def _framing_cases():
    for kind in ("inverter", "phase"):
        for name, info in registry.discover()[kind].items():
            if info.available:
                yield pytest.param(kind, name, id=f"{kind}-{name}")


@pytest.mark.parametrize(("kind", "name"), list(_framing_cases()))
def test_plugin_framings(kind, name):
    """Every inverter and phase retriever works under the center, same and none framings."""
    try:
        plugin = registry.create(kind, name)
        check_framings(kind, plugin)
    except Declined as exc:
        pytest.skip(str(exc))
    except (ParameterError, MelbenchError) as exc:
        if "default parameters" in str(exc) or "required" in str(exc):
            pytest.skip(str(exc))
        raise
