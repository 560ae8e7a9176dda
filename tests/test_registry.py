"""Entry-point discovery, broken plugins, Hydra structured configs, `melbench list`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from melbench import registry
from melbench.cli import main as cli_main
from melbench.errors import ParameterError, PluginUnavailableError, UnknownPluginError

THIRD_PARTY = textwrap.dedent('''
    from dataclasses import dataclass
    import numpy as np
    from melbench.plugin import Inverter

    class Halfway(Inverter):
        """Third-party test inverter: half of the rescaled transpose."""

        @dataclass
        class Params:
            gain: float = 0.5

        def solve(self, mel, spec, *, context):
            from melbench.inverters.transpose import mel_transpose_inverse
            return self.params.gain * mel_transpose_inverse(mel, spec)
''')


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """A third-party distribution on sys.path: one good inverter, one broken entry point."""
    (tmp_path / "mb_thirdparty.py").write_text(THIRD_PARTY)
    info = tmp_path / "mb_thirdparty-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mb-thirdparty\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(
        "[melbench.inverters]\n"
        "halfway = mb_thirdparty:Halfway\n"
        "broken = mb_no_such_module_xyz:Thing\n"
        "[melbench.phase]\n"
        "notaplugin = mb_thirdparty:Halfway\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.discover(refresh=True)
    yield tmp_path
    monkeypatch.undo()
    registry.discover(refresh=True)


def test_broken_entry_point_is_unavailable_with_reason(fake_dist):
    plugins = registry.discover()["inverter"]
    assert not plugins["broken"].available
    assert "mb_no_such_module_xyz" in plugins["broken"].error
    assert "ModuleNotFoundError" in plugins["broken"].error
    with pytest.raises(PluginUnavailableError, match="mb_no_such_module_xyz"):
        registry.get("inverter", "broken")
    # the others keep working, third-party ones included, with their distribution recorded
    assert plugins["pinv"].available
    assert plugins["halfway"].available and plugins["halfway"].distribution == "mb-thirdparty"
    assert plugins["halfway"].version == "1.2.3"
    inv = registry.create("inverter", "halfway", {"gain": 0.25})
    assert inv.label == "halfway[gain=0.25]"
    # an entry point that is not a subclass of the kind's base is refused with a reason
    wrong = registry.discover()["phase"]["notaplugin"]
    assert not wrong.available and "PhaseRetriever" in wrong.error


def test_list_shows_unavailable_and_params(fake_dist, capsys):
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out and "UNAVAILABLE" in out and "mb_no_such_module_xyz" in out
    assert "halfway" in out and "gain=0.5" in out and "mb-thirdparty 1.2.3" in out
    # built-in parameters and defaults are listed
    assert "fgla" in out and "alpha=0.99" in out and "n_iter=100" in out


def test_unknown_plugin_lists_choices():
    with pytest.raises(UnknownPluginError) as exc:
        registry.get("phase", "nosuch")
    msg = str(exc.value)
    assert "nosuch" in msg and "fgla" in msg and "gla" in msg


def test_bad_parameter_names_choices():
    with pytest.raises(ParameterError, match="n_iter"):
        registry.create("phase", "fgla", {"n_iters": 3})
    with pytest.raises(ParameterError, match="alpha"):
        registry.create("phase", "fgla", {"alpha": 1.5})


def test_params_become_hydra_structured_configs():
    from omegaconf import OmegaConf

    node = registry.config_node("fgla", registry.get("phase", "fgla").Params, "phase")
    cfg = OmegaConf.structured(node)
    assert cfg.name == "fgla" and cfg.n_iter == 100 and cfg.alpha == pytest.approx(0.99)
    with pytest.raises(Exception, match="n_iter"):  # typed: a string is refused
        cfg.n_iter = "many"


def _env_with(path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return env


def test_third_party_plugin_selectable_from_cli(fake_dist, tmp_path):
    """`inverter=halfway inverter.gain=...` works for an installed third-party plugin."""
    out = subprocess.run(
        [sys.executable, "-m", "melbench.cli", "run", "--cfg", "job", "inverter=halfway",
         "inverter.gain=0.75", "phase=fgla", "phase.n_iter=200"],
        cwd=tmp_path, env=_env_with(fake_dist), capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "name: halfway" in out.stdout and "gain: 0.75" in out.stdout
    assert "n_iter: 200" in out.stdout
