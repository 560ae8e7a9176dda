"""The README is true as written: its plugin example, install lines, first-screen commands
and CI recipe work when followed literally (issue 13 item 7)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from melbench import registry
from melbench.testing import check_inverter

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, line index) of the Markdown headings outside fenced code blocks."""
    out, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#+) (.+)$", line)):
            out.append((len(m.group(1)), m.group(2), i))
    return out


def section(title: str) -> str:
    """The README text under the heading ``title``, up to the next heading of its level or above."""
    text = README.read_text()
    lines = text.splitlines()
    hs = headings(text)
    found = [(lv, i) for lv, t, i in hs if t == title]
    assert found, f"README has no section {title!r}"
    level, start = found[0]
    end = next((i for lv, _, i in hs if i > start and lv <= level), len(lines))
    return "\n".join(lines[start + 1: end]) + "\n"


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(block: str, prog: str = "melbench") -> list[list[str]]:
    """The ``prog ...`` command lines of a shell block, comments stripped, split like a shell."""
    out = []
    for line in block.splitlines():
        line = line.strip().lstrip("- ").removeprefix("run: ")
        if line.startswith(prog + " "):
            out.append(shlex.split(line, comments=True))
    return out


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 600):
    assert args[0] == "melbench"
    p = subprocess.run([sys.executable, "-m", "melbench.cli", *args[1:]], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{shlex.join(args)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    return p


def test_readme_plugin_example_passes_conformance():
    code = blocks(section("Writing a plugin in a separate package"), "python")[0]
    ns: dict = {}
    exec(compile(code, "README-example", "exec"), ns)
    cls = ns["SmoothedPinv"]
    registry.register("inverter", cls, "smoothed_pinv")
    try:
        inv = registry.create("inverter", "smoothed_pinv", {"width": 5})
        assert inv.label == "smoothed_pinv[width=5]"
        check_inverter(inv)
    finally:
        registry.unregister("inverter", "smoothed_pinv")


def test_readme_states_the_two_setup_commands_first():
    first_block = blocks(section("Set-up: two commands"), "sh")[0]
    assert first_block.splitlines()[0].startswith("make run")
    assert first_block.splitlines()[1].startswith("make test")


def test_model_mels_section_is_on_the_first_screen_and_links_the_presets():
    text = README.read_text()
    assert [t for lv, t, _ in headings(text) if lv == 2][0] == "Give me audio from my model's mels"
    first = section("Give me audio from my model's mels")
    anchors = re.findall(r"\]\(#([^)]+)\)", first)
    assert "presets-the-front-ends-of-the-models-people-run" in anchors
    for anchor in anchors:  # every link of the section points at a heading that exists
        assert any(re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") == anchor
                   for _, h, _ in headings(text)), anchor
    assert "| `hifigan_v1` |" in section("Presets: the front ends of the models people run")


def test_no_pip_install_of_an_unpublished_melbench():
    """melbench is not on PyPI: every pip line installs it from a clone or a git URL."""
    text = README.read_text()
    for line in re.findall(r"pip install[^`\n]*", text):
        for tok in shlex.split(line.replace("<repository URL>", "URL"), comments=True)[2:]:
            assert not re.fullmatch(r"melbench(\[[^\]]*\])?", tok), line
    assert "git clone" in section("Give me audio from my model's mels")


HIFIGAN_CONFIG = {  # the front-end keys of HiFi-GAN's config_v1.json (plus some training keys)
    "resblock": "1", "num_gpus": 0, "batch_size": 16, "learning_rate": 0.0002,
    "upsample_rates": [8, 8, 2, 2], "segment_size": 8192, "num_mels": 80, "num_freq": 1025,
    "n_fft": 1024, "hop_size": 256, "win_size": 1024, "sampling_rate": 22050, "fmin": 0,
    "fmax": 8000, "fmax_for_loss": None,
}


def test_first_screen_commands_run_as_written(tmp_path):
    """The section's `melbench invert` lines, run verbatim on HiFi-GAN-V1 mels."""
    from melbench.spec import get_spec

    spec = get_spec("hifigan_v1")
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(spec)
    y = c.audio[: spec.sample_rate // 2]
    mel = spec.mel(y)
    np.save(tmp_path / "mel.npy", mel)
    (tmp_path / "mels").mkdir()
    np.save(tmp_path / "mels" / "a.npy", mel)
    np.save(tmp_path / "mels" / "b.npy", spec.mel(c.audio[spec.sample_rate: 3 * spec.sample_rate // 2]))
    (tmp_path / "config.json").write_text(json.dumps(HIFIGAN_CONFIG))
    first = section("Give me audio from my model's mels")
    cmds = commands(blocks(first, "sh")[0])
    assert [a[:2] for a in cmds] == [["melbench", "invert"]] * 2
    for args in cmds:
        run_cli(args, tmp_path)
    out, sr = sf.read(str(tmp_path / "out.wav"))
    assert sr == 22050 and len(out) == spec.n_samples(mel.shape[-1])
    assert sorted(p.name for p in (tmp_path / "wavs").glob("*.wav")) == ["a.wav", "b.wav"]
    # the Python line, with a torch tensor when torch is there
    code = blocks(first, "python")[0]
    ns: dict = {"mel": mel}
    exec(compile(code, "README-first-screen", "exec"), ns)
    assert np.asarray(ns["audio"]).shape == (spec.n_samples(mel.shape[-1]),)


@pytest.mark.slow
def test_plugin_package_and_ci_recipe_work_literally(tmp_path):
    """Build the README's plugin package (its pyproject has a build-system), install it, and run
    the CI recipe's commands verbatim: the sweep, the baseline, the gate, the report."""
    plugin = section("Writing a plugin in a separate package")
    pkg = tmp_path / "my-inverter"
    (pkg / "my_inverter").mkdir(parents=True)
    (pkg / "my_inverter" / "__init__.py").write_text(blocks(plugin, "python")[0])
    (pkg / "pyproject.toml").write_text(blocks(plugin, "toml")[0])
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(pkg)], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listing = run_cli(["melbench", "list", "inverter"], tmp_path, env).stdout
    assert "smoothed_pinv" in listing

    recipe = section("Using melbench as another project's CI regression benchmark")
    yaml_blocks = blocks(recipe.replace("\n   ", "\n"), "yaml")
    gate = tmp_path / "ci" / "conf" / "experiment" / "gate.yaml"
    gate.parent.mkdir(parents=True)
    gate.write_text(yaml_blocks[0])
    step3 = re.search(r"3\. Once, on a trusted commit: `(.*?)`", recipe, re.S).group(1)
    for part in step3.replace("\n", " ").split("&&"):
        run_cli(shlex.split(part), tmp_path, env)
    assert (tmp_path / "ci" / "baseline.csv").is_file()
    ci_steps = commands(yaml_blocks[1])
    assert len(ci_steps) == 3
    for args in ci_steps:
        run_cli(args, tmp_path, env)
    assert (tmp_path / "outputs" / "gate-report" / "index.html").is_file()
