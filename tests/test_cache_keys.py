"""Cache keys follow the code a cell really runs: a chain's steps and the helpers plugins use."""

from __future__ import annotations

import pytest

from melbench import cache, registry


@pytest.fixture
def unpinned(monkeypatch):
    monkeypatch.delenv(cache.CODE_VERSION_ENV, raising=False)
    cache._module_digest.cache_clear()
    yield
    cache._module_digest.cache_clear()


def _fingerprint_with_edited(module, objects, monkeypatch):
    real = cache._module_digest.__wrapped__

    def fake(name):
        return "edited" if name == module else real(name)

    monkeypatch.setattr(cache, "_module_digest", fake)
    try:
        return cache.code_fingerprint(objects)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("edited", ["melbench.phase.pghi", "melbench.phase._local",
                                    "melbench.phase.projections"])
def test_chain_key_changes_when_a_step_changes(unpinned, monkeypatch, edited):
    chain = registry.create("phase", "chain", {"steps": "pghi>fgla:10"})
    before = cache.code_fingerprint([chain])
    assert _fingerprint_with_edited(edited, [chain], monkeypatch) != before


def test_unrelated_plugin_edit_keeps_the_key(unpinned, monkeypatch):
    fgla = registry.create("phase", "fgla")
    before = cache.code_fingerprint([fgla])
    assert _fingerprint_with_edited("melbench.phase.lws", [fgla], monkeypatch) == before


def test_chain_step_count_maps_to_each_plugins_iteration_parameter():
    from melbench.errors import ParameterError

    chain = registry.create("phase", "chain", {"steps": "pghi>lws:7>fgla:5"})
    steps = dict(chain.steps)
    assert steps["lws:7"].params.batch_iterations == 7
    assert steps["fgla:5"].params.n_iter == 5
    assert chain.label == "chain[pghi>lws:7>fgla:5]"
    with pytest.raises(ParameterError, match="not iterative"):
        registry.create("phase", "chain", {"steps": "pghi:10>fgla:5"})
