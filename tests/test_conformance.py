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


def _optional_missing(error: str | None) -> bool:
    """An optional extra (torch) that is not installed: listed as unavailable, with the hint."""
    from melbench.torch_backend._require import MISSING

    return bool(error) and MISSING in error


def test_builtin_plugins_all_import():
    """Every plugin melbench itself declares must be importable (no broken built-ins)."""
    broken = {
        f"{kind}/{name}": info.error
        for kind, plugins in registry.discover().items()
        for name, info in plugins.items()
        if info.distribution == "melbench" and not info.available and not _optional_missing(info.error)
    }
    assert not broken, broken


def test_torch_plugins_without_torch_are_unavailable_with_the_install_hint(tmp_path):
    """issue 18: with torch unimportable, the *_torch plugins are listed (not a crash) with the fix."""
    import subprocess
    import sys

    code = (
        # a finder that makes `import torch` fail as on a machine without torch
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\")\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from melbench import registry\n"
        "from melbench.listing import format_plugins\n"
        "for kind, name in [('phase', 'fgla_torch'), ('phase', 'gla_torch'), "
        "('inverter', 'pinv_torch'), ('inverter', 'nnls_torch')]:\n"
        "    i = registry.discover()[kind][name]\n"
        "    assert not i.available, name\n"
        "    print(name, '|', i.error)\n"
        "assert 'fgla' in registry.available('phase')\n"
        "print(format_plugins('phase'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "|" in ln]
    assert len(lines) == 4
    assert all("pip install -e '.[torch]'" in ln for ln in lines), out.stdout
    assert "fgla_torch" in out.stdout.split("|", 4)[-1]  # melbench list shows it


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
