"""The documentation: its plugin-guide example is real and conformant, its generated pages
follow the code, and the benchmark commands leave the README alone."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from markdown_blocks import (
    blocks,
    check_command,
    commands,
    help_text,
    module_exists,
    page,
    python_modules,
    run_cli,
    section,
)

from melbench import registry
from melbench.errors import ParameterError
from melbench.spec import PRESETS, get_spec
from melbench.testing import (
    check_framings,
    check_inverter,
    check_phase,
    check_plugin,
    conformance_signal,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def guide():
    return _load(DOCS / "examples" / "guide_gla.py", "melbench_docs_guide_gla")


@pytest.fixture(scope="module")
def ext():
    return _load(DOCS / "_ext" / "melbench_docs.py", "melbench_docs_ext")


def test_guide_example_is_the_file_the_page_includes():
    page = (DOCS / "plugin_guide.md").read_text()
    assert "```{literalinclude} examples/guide_gla.py" in page
    assert ":pyobject: guide_gla" in page and ":pyobject: GuideGLA" in page


def test_guide_phase_retriever_passes_the_conformance_suite(guide):
    check_phase(guide.GuideGLA)
    check_framings("phase", guide.GuideGLA)
    registry.register("phase", guide.GuideGLA)
    try:
        check_plugin("phase", "guide_gla")
        assert registry.create("phase", "guide_gla", {"n_iter": 4}).label == "guide_gla[n_iter=4]"
    finally:
        registry.unregister("phase", "guide_gla")
    with pytest.raises(ParameterError, match="n_iter=-1"):
        guide.GuideGLA(n_iter=-1)


def test_guide_phase_retriever_is_griffin_lim(guide):
    """Same numbers as librosa.griffinlim (momentum 0, zero initial phase, same length)."""
    librosa = pytest.importorskip("librosa")
    spec = get_spec("speech16k")
    y = conformance_signal(spec.sample_rate)
    mag = spec.magnitude(y).astype(np.float64)
    trace: list = []
    x = guide.guide_gla(mag, spec, n_iter=8, init=np.zeros_like(mag), trace=trace, length=y.size)
    ours = spec.istft(x, length=y.size)
    ref = librosa.griffinlim(mag, n_iter=8, hop_length=spec.hop_length, n_fft=spec.n_fft,
                             win_length=spec.win_length, window="hann", center=True,
                             momentum=0.0, init=None, length=y.size, pad_mode="constant")
    np.testing.assert_allclose(ours, ref, atol=1e-6 * np.abs(ref).max())
    sc = [t["sc_db"] for t in trace]
    assert len(sc) == 8 and all(b <= a + 1e-9 for a, b in zip(sc, sc[1:], strict=False)), sc


def test_preset_table_has_every_preset_with_its_fields(ext):
    table = ext.preset_table()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", table, re.M)}
    assert set(rows) == set(PRESETS)
    hifi = rows["hifigan_v1"]
    assert "| 22050 | 1024 / 256 / 1024 |" in hifi and "same (reflect)" in hifi
    assert "magnitude, eps 1e-09" in hifi and "ln, floor 1e-05" in hifi
    assert "| HTK, none |" in rows["vocos_24k"] and "0 – 12000 Hz" in rows["vocos_24k"]
    assert "dB, floor 1e-10, ref 1" in rows["torchaudio_db"] and "| power |" in rows["torchaudio_db"]


def test_plugin_page_lists_every_registered_plugin(ext):
    page = ext.plugin_page()
    for kind, plugins in registry.discover().items():
        assert f"## {kind} (entry-point group `{registry.GROUPS[kind]}`)" in page
        for name in plugins:
            assert f"| `{name}` |" in page, (kind, name)
    assert "`snr_db=20.0`" in page and "`n_iter=100`, `alpha=0.99`" in page


def test_references_are_read_from_numpydoc_sections(ext, guide):
    refs = ext.plugin_references(guide.GuideGLA)  # found through the function it calls
    assert refs == ['D. Griffin and J. Lim, "Signal estimation from modified short-time '
                    'Fourier transform," IEEE Trans. ASSP 32(2), 236-243, 1984.']
    doc = "Summary.\n\nReferences\n----------\n.. [1] A. B, one.\n.. [2] C. D,\n   two.\n\nNotes\n-----\nx"
    assert ext.references(doc) == ["A. B, one.", "C. D, two."]
    assert ext.references("No sections.") == []


def test_benchmark_commands_do_not_touch_the_readme():
    bench = ROOT / "melbench" / "bench"
    offenders = [p.name for p in bench.glob("*.py")
                 if re.search(r"--readme|update_readme|readme_section", p.read_text())]
    assert offenders == []


#: melbench's own plugins that implement a published method: each must cite it.
PUBLISHED = {
    "phase": ["gla", "fgla", "agla", "raar", "dm", "lws", "pghi", "spsi", "rtisi_la"],
    "metric": ["pesq", "stoi", "estoi", "sc", "mcd", "mag_sc", "sc_fixed", "dnsmos", "mcd_world",
               "mrstft", "visqol"],
    "inverter": ["nnls"],
}


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, ns in PUBLISHED.items() for n in ns])
def test_published_methods_cite_their_paper(ext, kind, name):
    refs = ext.plugin_references(registry.get(kind, name))
    assert refs, f"{kind} {name!r}: no numpydoc References section"
    assert all(re.search(r"\b(19|20)\d\d\b", r) for r in refs), refs


# --------------------------------------------------------------------------- the manual's pages
# The README's manual moved into these pages (issue 17 item 6); the checks of its text moved
# with it. `markdown_blocks` reads the pages as tests/test_readme.py reads the README.

#: Every section of the README before the cut (issue 17 item 6) and where its text lives now:
#: (page, a sentence of that text). Nothing of the old front page is lost.
MOVED = {
    "Give me audio from my model's mels":
        ("inverting", "melbench is not on PyPI yet: install it from a clone"),
    "What works best: the evaluation suite's verdict":
        ("datasets", "On 20 dB log-mel noise (degraded track)"),
    "Set-up: two commands": ("running", "`make run` runs `melbench run -m +experiment=main`"),
    "The path of one clip": ("concepts", "clip audio ── spec.mel ──> mel"),
    "Presets: the front ends of the models people run":
        ("presets", "| `hifigan_v1` | HiFi-GAN V1 (`config_v1.json`) |"),
    "A model's config file as the spec":
        ("presets", "A config equal to a preset\nis reported under the preset's name."),
    "Example output": ("running", "Missing values carry their reason under the table"),
    "Running": ("running", "Every plugin's parameter dataclass is a Hydra structured config"),
    "Writing a plugin in a separate package":
        ("plugin_packages", "A plugin that fails to\nimport is listed as unavailable"),
    "Bundled data": ("datasets", "Loading downmixes to mono and resamples to the spec's rate with soxr."),
    "Datasets": ("datasets", "The noise SNR is the log mel's variance over the noise variance"),
    "Evaluation suite": ("datasets", "Six bundled clips cannot carry a verdict."),
    "Results (209 clips, `results/eval/`)":
        ("datasets", "[results by kind](../results/eval/report/results_by_kind.md)"),
    "Python API and `melbench invert`":
        ("inverting", "uses\nthe same registry and pipeline as `melbench run`"),
    "What melbench refuses, and what it warns about":
        ("troubleshooting", "A magnitude mel declared power, or a log10 mel declared ln"),
    "On the GPU, inside PyTorch code: the torch backend":
        ("inverting", "`melbench bench torch` times `fgla_torch`"),
    "Metrics": ("metrics", "**PESQ: which one.**"),
    "Metrics for each kind of material (evaluation extras)": ("metrics", "**DNSMOS P.835**"),
    "Sweeps, reports and CI regression gate":
        ("running", "A sweep is a Hydra multirun over any config value"),
    "Sweeps: parallel, cached, resumable":
        ("running", "`MELBENCH_CODE_VERSION=<tag>` pins that part of the key"),
    "Clusters: SLURM through submitit, Ray":
        ("running", "`make test-cluster` (issue 18; as root) proves this"),
    "Reports": ("reports", "**SC aggregation.**"),
    "Cost accounting: FFT pairs": ("reports", "one pair is one inverse plus one forward real\nFFT"),
    "`melbench compare` and the CI regression gate":
        ("reports", "melbench gates itself: `make test` ends with `make ci-gate`"),
    "Using melbench as another project's CI regression benchmark":
        ("reports", "3. Once, on a trusted commit:"),
    "Mel -> magnitude inverters": ("methods", "`nnls` is 27-111x faster than librosa's `mel_to_stft`"),
    "Mel -> audio pipelines (`melbench bench pipelines`) and quality presets":
        ("methods", "`joint_fgla` estimates magnitude *and* phase from the mel"),
    "Projection phase retrieval": ("methods", "`agla` (Nenov et al. 2023) defaults to alpha 0.99"),
    "Local and non-iterative phase retrieval": ("methods", "At 75% overlap the reference's no-future kernel"),
    "Reproducing published results":
        ("reproducing", "Your copy of the papers' data plugs in on the command line"),
    "Development": ("running", "slow, exhaustive checks: `make test-slow`"),
}


@pytest.mark.parametrize("title", list(MOVED))
def test_every_section_of_the_old_readme_has_a_page(title):
    name, sentence = MOVED[title]
    assert sentence in page(name), (title, name)
    assert f"docs/{name}.md" in (ROOT / "README.md").read_text() or name == "concepts" \
        or f"{{doc}}`{name}`" in page("index") or name in page("index"), name


#: The pages s3-front writes, whose every command is checked. Other pages (the plugin
#: guide, papers, local phase) are checked too: their commands are melbench's as well.
PAGES = sorted(p.stem for p in DOCS.glob("*.md"))


def _command_lines(name: str) -> list[list[str]]:
    text = page(name)
    lines = [args for b in blocks(text, "sh") + blocks(text, "yaml") for args in commands(b)]
    # inline `melbench ...` spans of the prose, without placeholders (<time>, RUN_DIR, TOPIC)
    for span in re.findall(r"`(melbench [^`]+)`", text.replace("\n", " ")):
        if re.search(r"<|\.\.\.|…|\b[A-Z_]{3,}\b|\|", span):
            continue
        try:
            lines.append([os.path.expandvars(a) for a in shlex.split(span)])
        except ValueError:
            continue
    return lines


@pytest.fixture
def example_plugins(guide):
    """The pages' example plugins, registered as their readers would install them."""
    ns: dict = {}
    exec(compile(blocks(page("plugin_packages"), "python")[0], "docs-plugin-packages", "exec"), ns)
    registry.register("inverter", ns["SmoothedPinv"], "smoothed_pinv")
    registry.register("phase", guide.GuideGLA, "guide_gla")
    yield
    registry.unregister("inverter", "smoothed_pinv")
    registry.unregister("phase", "guide_gla")


@pytest.mark.parametrize("name", PAGES)
def test_docs_commands_are_true_to_the_cli(name, example_plugins):
    """Each `melbench ...` line of the page: its subcommand and options exist (`--help`), and
    a `melbench run` line's Hydra overrides compose against melbench's config."""
    lines = _command_lines(name)
    for args in lines:
        check_command(args)
    for module in python_modules(page(name)):
        assert module_exists(module), (name, module)


def test_command_checks_catch_false_commands():
    """The checker itself: a wrong option, topic, group choice, key and grammar each fail."""
    from hydra.errors import HydraException

    with pytest.raises(AssertionError, match="--spec-file"):
        check_command(["melbench", "invert", "a.npy", "-o", "b.wav", "--spec-file", "c.json"])
    with pytest.raises(AssertionError, match="no bench topic"):
        check_command(["melbench", "bench", "nothing"])
    with pytest.raises(AssertionError, match="no subcommand"):
        check_command(["melbench", "frobnicate"])
    for bad in (["phase=nothing"], ["phase=fgla", "phase.n_iterations=3"], ["dataset.path=~/wavs"]):
        with pytest.raises(HydraException):
            check_command(["melbench", "run", *bad])


def test_presets_page_names_the_model_of_every_preset():
    """The "which preset for my model" table has every preset once, with its project."""
    table = section(page("presets"), "Which preset for my model")
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", table, re.M))
    assert set(rows) == set(PRESETS)
    assert "HiFi-GAN V1" in rows["hifigan_v1"] and "Vocos" in rows["vocos_24k"]
    assert "torchaudio" in rows["torchaudio"] and "(= `tacotron2`)" in rows["tts22k"]


def test_troubleshooting_messages_are_melbench_messages():
    """Each message the troubleshooting table quotes is (up to its `…` values) raised by melbench."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "melbench").rglob("*.py"))
    source = re.sub(r'"\s*\n\s*f?"', "", source)  # implicit concatenation of string literals
    table = section(page("troubleshooting"), "Messages you may meet")
    quoted = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert len(quoted) >= 12
    for message in quoted:
        parts = [p.strip() for p in message.split("…") if len(p.strip()) >= 5]
        assert parts, message
        for part in parts:
            assert part.strip(" ;:().") in source, (message, part)


def test_plugin_package_example_passes_conformance():
    plugin = section(page("plugin_packages"), "Writing a plugin in a separate package")
    code = blocks(plugin, "python")[0]
    ns: dict = {}
    exec(compile(code, "docs-plugin-packages-example", "exec"), ns)
    cls = ns["SmoothedPinv"]
    registry.register("inverter", cls, "smoothed_pinv")
    try:
        inv = registry.create("inverter", "smoothed_pinv", {"width": 5})
        assert inv.label == "smoothed_pinv[width=5]"
        check_inverter(inv)
        # the page's own test block, run as written
        test_ns: dict = {}
        exec(compile(blocks(page("plugin_packages"), "python")[1], "docs-conformance", "exec"), test_ns)
        test_ns["test_conformance"]()
    finally:
        registry.unregister("inverter", "smoothed_pinv")


def test_inverting_page_python_runs(tmp_path):
    """The Python API block of the inverting page, with a real clip."""
    spec = get_spec("tts22k")
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(get_spec("speech16k"))
    code = blocks(section(page("inverting"), "Python API and `melbench invert`"), "python")[0]
    ns: dict = {"audio": c.audio[:16000], "sr": 16000}
    exec(compile(code, "docs-inverting", "exec"), ns)
    assert ns["m"].shape == (80, spec.n_frames(22050))
    assert np.asarray(ns["y"]).shape == (spec.n_samples(ns["m"].shape[-1]),)


def test_inverting_page_torch_block_runs():
    torch = pytest.importorskip("torch")
    spec = get_spec("speech16k")
    y = conformance_signal(spec.sample_rate)[:8000]
    mel = torch.as_tensor(np.stack([spec.mel(y), spec.mel(y[::-1].copy())]))
    torch_section = section(page("inverting"), "On the GPU, inside PyTorch code: the torch backend")
    code = blocks(torch_section, "python")[0]
    ns: dict = {"mel": mel, "spec": spec}
    exec(compile(code, "docs-torch", "exec"), ns)
    assert tuple(ns["audio"].shape) == (2, spec.n_samples(mel.shape[-1]))


@pytest.mark.slow
def test_plugin_package_and_ci_recipe_work_literally(tmp_path):
    """Build the plugin package of docs/plugin_packages.md (its pyproject has a build-system),
    install it, and run the CI recipe of docs/reports.md verbatim: the sweep, the baseline,
    the gate, the report."""
    plugin = section(page("plugin_packages"), "Writing a plugin in a separate package")
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

    recipe = section(page("reports"), "Using melbench as another project's CI regression benchmark")
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


def test_help_texts_point_at_pages_that_exist():
    """`--help` texts that send the reader to a docs page name a page that exists."""
    for sub in ("invert", "run", "report", "compare"):
        text = help_text(sub) if sub != "run" else ""
        for ref in re.findall(r"docs/[\w/]+\.md", text.replace("\n", "")):
            assert (ROOT / ref).is_file(), (sub, ref)
    assert "docs/presets.md" in help_text("invert").replace("\n", "").replace(" ", "")
