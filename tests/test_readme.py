"""The README is a true front page: a few screens, its commands run (or are true to the
command line), its Python runs, its headline table is the evaluation suite's, its links
resolve (issue 13 item 7, issue 17 item 6). The manual it used to be lives in docs/
(tests/test_docs.py checks those pages the same way)."""

from __future__ import annotations

import json
import os
import re
import shlex

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import tomllib
from markdown_blocks import (
    README,
    ROOT,
    blocks,
    check_command,
    commands,
    compose_run,
    headings,
    run_cli,
    section,
)

from melbench import registry
from melbench.labels import parse_label
from melbench.spec import PRESETS

TEXT = README.read_text(encoding="utf-8")
MELS = "My mels → audio"
COMPARE = "Compare methods on my data"
HEADLINE = "What works best: the evaluation suite's verdict"


def readme(title: str) -> str:
    return section(TEXT, title)


def test_readme_is_a_front_page():
    """A few screens: what it is, install, the two uses, one result table, the links."""
    h2 = [t for lv, t, _ in headings(TEXT) if lv == 2]
    assert h2 == ["Install", MELS, COMPARE, HEADLINE, "Documentation"]
    assert len(TEXT.encode()) < 8000 and len(TEXT.splitlines()) < 120
    first_mels = next(i for lv, t, i in headings(TEXT) if t == MELS)
    assert first_mels < 40  # "give me audio" is on the first screen, not at line 220
    tables = [ln for ln in TEXT.splitlines() if re.match(r"\|(-+\|)+$", ln)]
    assert len(tables) == 1  # one result table


def test_readme_states_the_two_setup_commands_first():
    first_block = blocks(readme("Install"), "sh")[0]
    assert first_block.splitlines()[0].startswith("make run")
    assert first_block.splitlines()[1].startswith("make test")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "git clone" in readme("Install")


def test_readme_extras_exist_in_pyproject():
    """Every extra the install lines name (in the pip line and its comment) is defined."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    block = blocks(readme("Install"), "sh")[1]
    named = set()
    for line in block.splitlines():
        if "pip install" not in line:
            continue
        named |= {e for m in re.findall(r"\.\[([^\]]+)\]", line) for e in m.split(",")}
        if "extras" in line:
            named |= set(re.findall(r"[a-z][a-z-]+", line.split("extras", 1)[1])) - {"include"}
    assert {"report", "parallel", "slurm", "ray", "torch", "eval-metrics"} <= named
    assert named <= extras, named - extras


def test_no_pip_install_of_an_unpublished_melbench():
    """melbench is not on PyPI: every pip line (README and docs) installs it from a clone or a git URL."""
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    for path in pages:
        for line in re.findall(r"pip install[^`\n]*", path.read_text(encoding="utf-8")):
            for tok in shlex.split(line.replace("<repository URL>", "URL"), comments=True)[2:]:
                assert not re.fullmatch(r"melbench(\[[^\]]*\])?", tok), (path.name, line)


def _slug(title: str) -> str:
    """GitHub's (and MyST's) heading anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_readme_links_resolve():
    """Every relative link points at a file of the repository (and a heading there)."""
    links = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    local = [ln for ln in links if not re.match(r"[a-z]+:", ln)]
    assert len(local) >= 15
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            assert anchor in {_slug(t) for _, t, _ in headings(target.read_text())}, link
    docs = {ln.split("#")[0] for ln in local if ln.startswith("docs/")}
    for name in ["inverting", "presets", "running", "datasets", "metrics", "reports", "methods",
                 "benchmarks", "reproducing", "papers", "plugin_guide", "troubleshooting"]:
        assert f"docs/{name}.md" in docs, name


HIFIGAN_CONFIG = {  # the front-end keys of HiFi-GAN's config_v1.json (plus some training keys)
    "resblock": "1", "num_gpus": 0, "batch_size": 16, "learning_rate": 0.0002,
    "upsample_rates": [8, 8, 2, 2], "segment_size": 8192, "num_mels": 80, "num_freq": 1025,
    "n_fft": 1024, "hop_size": 256, "win_size": 1024, "sampling_rate": 22050, "fmin": 0,
    "fmax": 8000, "fmax_for_loss": None,
}


def test_mels_section_names_real_presets_and_links_their_table():
    text = readme(MELS)
    assert "(docs/presets.md)" in text
    named = set(re.findall(r"`([a-z0-9_]+)`", text)) & (set(PRESETS) | {"hifigan_v1"})
    assert {"hifigan_v1", "vocos_24k", "tacotron2"} <= named
    for name in re.findall(r"`((?:hifigan|bigvgan|vocos|pwg|torchaudio|librosa|tacotron)\w*)`", text):
        assert name in PRESETS, name
    for args in commands(blocks(text, "sh")[0]):
        check_command(args)
    assert "--quality fast|balanced|best" in text and "--jobs N" in text
    check_command(["melbench", "invert", "x.npy", "-o", "y.wav", "--quality", "fast", "--jobs", "2"])


def test_first_screen_commands_run_as_written(tmp_path, monkeypatch):
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
    first = readme(MELS)
    cmds = commands(blocks(first, "sh")[0])
    assert [a[:2] for a in cmds] == [["melbench", "invert"]] * 2
    for args in cmds:
        run_cli(args, tmp_path)
    out, sr = sf.read(str(tmp_path / "out.wav"))
    assert sr == 22050 and len(out) == spec.n_samples(mel.shape[-1])
    assert sorted(p.name for p in (tmp_path / "wavs").glob("*.wav")) == ["a.wav", "b.wav"]
    # the Python lines (config.json in the working directory, as for the shell lines)
    code = blocks(first, "python")[0]
    ns: dict = {"mel": mel}
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README-first-screen", "exec"), ns)
    assert np.asarray(ns["audio"]).shape == (spec.n_samples(mel.shape[-1]),)
    assert np.asarray(ns["fast"]).shape == np.asarray(ns["audio"]).shape
    assert not np.allclose(ns["fast"], ns["audio"])  # another cell than the default


def test_compare_commands_are_true_to_the_cli():
    """Each line's subcommand and options exist; `melbench run`'s overrides compose."""
    text = readme(COMPARE)
    cmds = commands(blocks(text, "sh")[0])
    assert [a[1] for a in cmds] == ["run", "report", "compare", "compare"]
    for args in cmds:
        check_command(args)
    # the overrides the prose names
    overrides = re.findall(r"`([a-z_.]+=[a-z0-9_]+)`", text)
    assert {"phase.n_iter=200", "spec=tts22k", "degrade=noise", "metrics=all"} <= set(overrides)
    compose_run(["phase=fgla", *overrides])


@pytest.mark.slow
def test_compare_commands_run_as_written(tmp_path):
    """The section's sweep on a folder of one short clip, then its report and both compare
    lines, verbatim except the sweep's time (and two metrics, to keep it short)."""
    from melbench.spec import get_spec

    spec = get_spec("speech16k")
    (c,) = registry.create("dataset", "bundled", {"ids": ["cmu_arctic_a0007"]}).clips(spec)
    (tmp_path / "wavs").mkdir()
    sf.write(tmp_path / "wavs" / "a.wav", c.audio[: spec.sample_rate], spec.sample_rate)
    env = dict(os.environ)
    cmds = commands(blocks(readme(COMPARE), "sh")[0])
    run_cli(cmds[0] + ["metrics=[sc,pesq]"], tmp_path, env)
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    rows = pd.read_csv(sweep / "rows.csv")
    assert len(rows[rows["clip"] != "*"]) == 6 and (rows["status"] == "ok").all()
    for args in cmds[1:]:
        args = [a.replace("outputs/sweeps/<time>", str(sweep)) for a in args]
        run_cli(args, tmp_path, env)
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "baseline.csv").is_file()


def _inverter_matches(inverter: str, label: str) -> bool:
    """README inverter (`guarded`, `guarded:inner=joint_tc`) against a row's canonical label.

    The parameters the README names must be the row's; every other parameter the plugin
    still has must be its default (iteration counts aside), so `guarded` is not the
    `inner=joint_tc` row.
    """
    name, *given = inverter.split(":")
    row_name, row_params = parse_label(label)
    if row_name != name:
        return False
    named = dict(kv.split("=", 1) for kv in given)
    defaults = parse_label(registry.create("inverter", name, {}).label)[1]
    for key, value in row_params.items():
        if key not in named and (key.endswith("iter") or key not in defaults):
            continue  # iteration counts; parameters renamed since the row was made
        if value != named.get(key, defaults.get(key)):
            return False
    return all(row_params.get(k) == v for k, v in named.items())


def _cell_label_matches(inverter: str, phase: str, row) -> bool:
    """A README cell (`nnls` + `pghi>fgla:100`) against a row's canonical labels."""
    if not _inverter_matches(inverter, row.inverter):
        return False
    if ">" in phase:  # a chain: its label is `chain[<steps>]`
        return row.phase.startswith("chain[") and phase in row.phase
    name, params = parse_label(row.phase)
    want_iter = phase.split(":")[1] if ":" in phase else "100"
    return name == phase.split(":")[0] and params.get("n_iter") == want_iter


def _shown(cell: str) -> tuple[float, ...]:
    """The numbers of a table cell (`**3.59** [3.54, 3.64]` -> (3.59, 3.54, 3.64))."""
    return tuple(float(x) for x in re.findall(r"-?\d+\.\d+|-?\d+", cell.replace("–", "")))


def test_headline_table_is_the_evaluation_suites(tmp_path):
    """Every number of the README's one table, read back from results/eval's committed report."""
    report = pd.read_csv(ROOT / "results" / "eval" / "report" / "results_by_kind.csv")
    clean = report[report["degrade"] == "none"]
    lines = [ln for ln in readme(HEADLINE).splitlines() if ln.startswith("| `")]
    assert len(lines) == 6
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        inverter, phase = re.findall(r"`([^`]+)`", cells[0])[:2]
        rows = clean[[_cell_label_matches(inverter, phase, r) for r in clean.itertuples()]]
        assert rows[["inverter", "phase"]].drop_duplicates().shape[0] == 1, (inverter, phase)

        def stat(kind: str, metric: str, rows=rows, cell=(inverter, phase)):
            r = rows[(rows["kind"] == kind) & (rows["metric"] == metric)]
            assert len(r) == 1, (cell, kind, metric)
            return r.iloc[0]

        for col, (kind, metric) in zip(cells[1:4], [("speech", "pesq_wb"), ("speech", "sc_true_db"),
                                                    ("music", "sc_true_db")], strict=True):
            s = stat(kind, metric)
            digits = len(col.split("[")[0].strip("* ").split(".")[1])
            want = tuple(round(v, digits) for v in (s["mean"], s["ci_low"], s["ci_high"]))
            assert _shown(col) == pytest.approx(want, abs=1e-9), (inverter, phase, metric)
        visqol = cells[4].strip("*")
        if visqol != "–":
            assert float(visqol) == round(stat("music", "visqol_audio")["mean"], 2)
        else:
            assert not ((rows["kind"] == "music") & (rows["metric"] == "visqol_audio")
                        & rows["mean"].notna()).any()
        seconds = sum(stat("speech", m)["mean"] for m in ("t_invert", "t_phase", "t_synth"))
        digits = len(cells[5].split(".")[1])
        assert float(cells[5]) == round(seconds, digits), (inverter, phase, seconds)
    # the default comes first; in each quality column the best shown value (ties included)
    # is bold and nothing else is
    assert "the default of `melbench invert`" in lines[0]
    table = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    for col, higher in ((1, True), (2, False), (3, False), (4, True)):
        shown = [_shown(r[col])[0] if r[col] != "–" else None for r in table]
        best = (max if higher else min)(v for v in shown if v is not None)
        for r, v in zip(table, shown, strict=True):
            assert r[col].startswith("**") == (v == best), (r[0], col, r[col], best)
    # the sentence under the table: the "other" sounds
    other = clean[clean["kind"] == "other"]

    def other_sc(inverter: str, phase: str) -> float:
        (mean,) = [r.mean for r in other.itertuples() if r.metric == "sc_true_db"
                   and _cell_label_matches(inverter, phase, r)]
        return mean

    default = re.findall(r"`([^`]+)`", table[0][0])[:2]
    text = readme(HEADLINE)
    assert f"({other_sc(*default):.1f} against {other_sc('nnls', 'fgla'):.1f} dB)" in text
