"""Entry-point discovery, broken plugins, Hydra structured configs, `melbench list`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from melbench import registry
from melbench.cli import main as cli_main
from melbench.errors import ParameterError, PluginUnavailableError, UnknownPluginError
from melbench.plugin import Degradation

THIRD_PARTY = textwrap.dedent('''
    from dataclasses import dataclass
    import numpy as np
    from melbench.plugin import Degradation, Inverter

    class Dim(Degradation):
        """Third-party test degradation: scale the linear mel by a gain."""

        @dataclass
        class Params:
            gain: float = 0.5

        def __call__(self, mel, spec, rng):
            lin = spec.decompress(np.asarray(mel))
            return spec.compress(self.params.gain * lin).astype(mel.dtype)

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
        "[melbench.degradations]\n"
        "dim = mb_thirdparty:Dim\n"
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

    from melbench.hydra_configs import config_node

    node = config_node("fgla", registry.get("phase", "fgla").Params, "phase")
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


def test_third_party_degradation_found_listed_and_conformant(fake_dist, capsys):
    from melbench import degrade
    from melbench.testing import check_degradation, check_plugin

    info = registry.info("degrade", "dim")
    assert info.available and info.distribution == "mb-thirdparty"
    assert set(registry.available("degrade")) >= {"none", "noise", "smooth", "quantize", "dim"}
    check_plugin("degrade", "dim")
    check_degradation("dim")
    stage = degrade.stage({"name": "dim", "gain": 0.25})
    assert stage.label == "dim[gain=0.25]"
    assert cli_main(["list", "degrade"]) == 0
    out = capsys.readouterr().out
    assert "degrades (melbench.degradations):" in out
    assert "dim" in out and "gain=0.5" in out and "mb-thirdparty 1.2.3" in out
    assert "snr_db=20.0" in out and "fgla" not in out


def test_third_party_degradation_runs_from_cli(fake_dist, tmp_path):
    """`degrade=dim degrade.gain=...` runs a cell and labels its rows."""
    import pandas as pd

    out = subprocess.run(
        [sys.executable, "-m", "melbench.cli", "run", "dataset=synthetic", "dataset.duration=0.5",
         "dataset.signals=[harmonic]", "inverter=pinv", "phase=gla", "phase.n_iter=3",
         "metrics=[sc]", "degrade=dim", "degrade.gain=0.25", "hydra.run.dir=r"],
        cwd=tmp_path, env=_env_with(fake_dist), capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    rows = pd.read_csv(tmp_path / "r" / "rows.csv")
    assert list(rows["degrade"]) == ["dim[gain=0.25]"] and (rows["status"] == "ok").all()


class _WrongForm(Degradation):
    """Returns a linear mel whatever the spec's compression (a broken degradation)."""

    name = "wrong_form"

    def __call__(self, mel, spec, rng):
        return spec.decompress(mel)


class _InPlace(Degradation):
    """Adds noise into the caller's array (a broken degradation)."""

    name = "in_place"

    def __call__(self, mel, spec, rng):
        mel += 0.01 * np.abs(rng.standard_normal(mel.shape)).astype(mel.dtype)
        return mel


def test_check_degradation_catches_broken_ones():
    from melbench.testing import check_degradation

    with pytest.raises(AssertionError, match="wrong_form .*not in the input's form"):
        check_degradation(_WrongForm)
    with pytest.raises(AssertionError, match="in_place .*modified in place"):
        check_degradation(_InPlace)
