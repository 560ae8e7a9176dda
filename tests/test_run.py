"""`melbench run` end to end: files on disk, the printed table, failures recorded, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from melbench.results import read_rows

ONE_CLIP = "dataset.ids=[cmu_arctic_a0007]"


def melbench(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "melbench.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def only_run_dir(root: Path) -> Path:
    dirs = [p for p in (root / "outputs" / "runs").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_single_run_writes_config_rows_summary_and_prints_table(tmp_path):
    out = melbench("run", ONE_CLIP, "phase.n_iter=10", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = only_run_dir(tmp_path)
    assert (run / ".hydra" / "config.yaml").is_file()
    rows = read_rows(run / "rows.csv")
    assert list(rows["clip"]) == ["cmu_arctic_a0007"]
    r = rows.iloc[0]
    assert r["status"] == "ok" and r["inverter"] == "pinv" and r["phase"].startswith("fgla[")
    # SC of a pinv magnitude after 10 FGLA iterations is well below 0 dB, and the
    # true-magnitude SC is worse than the consistency SC (the mel lost information)
    assert r["sc_db"] < -5 and r["sc_true_db"] < 0 and r["sc_true_db"] > r["sc_db"]
    assert r["t_phase"] > 0 and r["rtf"] > 0
    summary = (run / "summary.md").read_text()
    assert "| pinv |" in summary and summary in out.stdout


def test_sweep_prints_one_line_per_cell(tmp_path):
    out = melbench("run", "-m", ONE_CLIP, "inverter=transpose,pinv", "phase=gla,fgla",
                   "phase.n_iter=10", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sweep = next((tmp_path / "outputs" / "sweeps").iterdir())
    rows = read_rows(sweep / "rows.csv")
    cells = set(zip(rows["inverter"], rows["phase"].str.split("[").str[0], strict=True))
    assert cells == {("transpose", "gla"), ("transpose", "fgla"), ("pinv", "gla"), ("pinv", "fgla")}
    table = [line for line in out.stdout.splitlines() if line.startswith("| ") and "ok" not in line]
    assert len([t for t in table if "transpose" in t or "pinv" in t]) == 4
    # the community's first claim holds on this clip: pinv beats transpose (true-magnitude SC)
    by = rows.groupby("inverter")["sc_true_db"].mean()
    assert by["pinv"] < by["transpose"]


def test_unknown_plugin_is_a_clear_message_not_a_traceback(tmp_path):
    out = melbench("run", "inverter=nosuch", cwd=tmp_path)
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "Could not find 'inverter/nosuch'" in text
    assert "Available options in 'inverter'" in text and "pinv" in text and "transpose" in text
    assert "Traceback" not in text


def test_bad_parameter_value_fails_cell_with_reason(tmp_path):
    out = melbench("run", ONE_CLIP, "phase.alpha=5", cwd=tmp_path)
    assert out.returncode == 1
    assert "alpha=5" in out.stderr and "Traceback" not in out.stderr
    rows = read_rows(only_run_dir(tmp_path) / "rows.csv")
    assert rows.iloc[0]["status"] == "failed" and "alpha" in rows.iloc[0]["error"]


def test_unreadable_file_is_recorded_and_run_goes_on(tmp_path):
    data = tmp_path / "audio"
    data.mkdir()
    t = np.arange(16000) / 16000
    sf.write(data / "good.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    (data / "broken.wav").write_bytes(b"RIFF....not really a wav")
    sf.write(data / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    out = melbench("run", "dataset=folder", f"dataset.path={data}", "phase.n_iter=5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = read_rows(only_run_dir(tmp_path) / "rows.csv").set_index("clip")
    assert rows.loc["good", "status"] == "ok"
    assert rows.loc["broken", "status"] == "failed"
    assert "broken.wav" in rows.loc["broken", "error"]
    assert rows.loc["silent", "status"] == "skipped" and "silent" in rows.loc["silent", "error"]
    assert "broken" in out.stdout  # the summary lists what was not scored, with the reason


def test_multichannel_and_rate_are_normalised(tmp_path):
    """A 44.1 kHz stereo file is downmixed and resampled to the spec's 16 kHz."""
    from melbench.datasets.base import load_audio

    t = np.arange(44100) / 44100
    st = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1).astype(np.float32)
    sf.write(tmp_path / "st.flac", st, 44100)
    y, sr, info = load_audio(tmp_path / "st.flac", 16000)
    assert sr == 16000 and y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) - 16000) <= 1
    assert info["source_sample_rate"] == 44100 and info["source_channels"] == 2
    # downmix halves the amplitude; resampling keeps the 440 Hz peak
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * 16000 / len(y) - 440) < 2
    assert np.max(np.abs(y[2000:-2000])) == pytest.approx(0.5, abs=0.02)


def test_bundled_dataset_has_manifest_and_licences():
    from melbench.datasets.bundled import read_manifest
    from melbench.resources import bundled_dir

    rows = read_manifest()
    assert {r["kind"] for r in rows} == {"speech", "music"}
    for r in rows:
        f = bundled_dir() / r["file"]
        info = sf.info(str(f))
        assert info.samplerate == int(r["sample_rate"]) and info.channels == int(r["channels"])
        assert abs(info.frames / info.samplerate - float(r["duration"])) < 0.01
        assert r["licence"]
    assert (bundled_dir() / "speech" / "COPYING.cmu_arctic").is_file()
    assert (bundled_dir() / "LICENSES.md").is_file()


def test_installed_wheel_works_outside_the_repository(tmp_path):
    """The wheel ships conf/ and the bundled data; a run works from any directory."""
    repo = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "wheels"
    b = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(wheels), str(repo)],
                       capture_output=True, text=True, timeout=300)
    if b.returncode != 0 and "hatchling" in b.stderr:
        pytest.skip("hatchling not installed in this environment")
    assert b.returncode == 0, b.stderr
    wheel = next(wheels.glob("melbench-*.whl"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    assert (site / "melbench" / "_conf" / "config.yaml").is_file()
    assert (site / "melbench" / "_data" / "bundled" / "manifest.csv").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "melbench.cli", "run", ONE_CLIP, "phase.n_iter=3"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    cfg = next((elsewhere / "outputs" / "runs").iterdir()) / ".hydra" / "hydra.yaml"
    assert str(site / "melbench" / "_conf") in cfg.read_text()
    rows = pd.read_csv(next((elsewhere / "outputs" / "runs").iterdir()) / "rows.csv")
    assert rows["status"].tolist() == ["ok"]


def test_display_label_keeps_only_non_default_parameters():
    from melbench import registry
    from melbench.results import display_label

    lws = registry.create("phase", "lws", {"mode": "music"})
    assert display_label(lws.label, "phase") == "lws[mode=music]"
    assert display_label(registry.create("phase", "fgla").label, "phase") == "fgla"
    assert display_label(registry.create("phase", "fgla", {"n_iter": 7}).label, "phase") == "fgla[n_iter=7]"
    assert display_label("notaplugin[x=1]", "phase") == "notaplugin[x=1]"


def test_summary_groups_repeated_reasons():
    from melbench.results import rows_to_frame, summary_markdown

    rows = [
        {"dataset": "d", "clip": c, "spec": "s", "degrade": "none", "inverter": inv, "phase": "gla",
         "seed": 0, "status": "ok", "error": "", "sc_db": -10.0,
         "notes": "pesq (pesq_wb): no wideband PESQ" if c.startswith("nb") else ""}
        for c in ("nb1", "nb2", "wb1") for inv in ("pinv", "transpose")
    ]
    rows.append({**rows[0], "clip": "bad", "status": "failed", "error": "load: unreadable x.wav",
                 "notes": ""})
    text = summary_markdown(rows_to_frame(rows))
    line = [t for t in text.splitlines() if "no wideband PESQ" in t]
    assert len(line) == 1 and "nb1, nb2" in line[0] and "every cell" in line[0]
    assert "wb1" not in line[0]
    failed = [t for t in text.splitlines() if "unreadable" in t]
    assert len(failed) == 1 and "bad" in failed[0] and "pinv / gla" in failed[0]


def test_run_help_lists_groups_and_examples(tmp_path):
    out = melbench("run", "--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "melbench run inverter=nnls phase=lws" in out.stdout
    groups = {line.split(":")[0]: line for line in out.stdout.splitlines() if ": " in line}
    for name in ("pinv", "nnls", "transpose"):
        assert name in groups["inverter"]
    for name in ("gla", "fgla", "lws", "pghi", "chain"):
        assert name in groups["phase"]


def test_first_clip_timing_excludes_one_off_costs(tmp_path):
    """A plugin's one-off cost (numba compilation, say) is paid in an untimed warm-up."""
    import time
    from dataclasses import dataclass

    from melbench import registry, runner
    from melbench.phase.projections import GLA

    class SlowFirstCall(GLA):
        compiled = False

        @dataclass
        class Params:
            n_iter: int = 2
            init: str = "random"

        def retrieve(self, magnitude, spec, *, init, rng, trace):
            if not SlowFirstCall.compiled:
                time.sleep(1.0)
                SlowFirstCall.compiled = True
            return super().retrieve(magnitude, spec, init=init, rng=rng, trace=trace)

    registry.register("phase", SlowFirstCall, "slow_first")
    try:
        cfg = {"spec": "speech16k", "dataset": {"name": "bundled", "ids": ["cmu_arctic_a0007"]},
               "inverter": {"name": "pinv"}, "phase": {"name": "slow_first"},
               "metrics": ["timing"], "metric_jobs": 1, "cache_dir": None, "progress": False}
        df = runner.run(cfg, tmp_path / "run", echo=False)
    finally:
        registry.unregister("phase", "slow_first")
    assert SlowFirstCall.compiled
    assert df.loc[0, "status"] == "ok" and df.loc[0, "t_phase"] < 0.5


# --------------------------------------------------------------------------- the app as a function


def _argv_untouched(fn):
    before = list(sys.argv)
    out = fn()
    assert sys.argv == before, "the app must not rewrite sys.argv"
    return out


def test_run_app_returns_the_outcome_without_touching_sys_argv(tmp_path, monkeypatch):
    """The CLI calls the app as a function: outcome back, sys.argv as it was, no state left over."""
    from melbench.app import run_app
    from melbench.hydra_configs import register_hydra_configs

    register_hydra_configs()
    monkeypatch.chdir(tmp_path)
    bad = _argv_untouched(lambda: run_app([ONE_CLIP, "phase.alpha=5", "hydra.run.dir=bad",
                                           "progress=false"]))
    assert bad.exit_code == 1 and bad.hydra_exit is None
    assert len(bad.failed) == 1 and "cannot set up this cell" in bad.failed[0]
    assert "alpha" in bad.failed[0]
    # a later call starts clean (the old module-level list had to be cleared by hand)
    good = _argv_untouched(lambda: run_app([ONE_CLIP, "phase.n_iter=3", "hydra.run.dir=good",
                                            "progress=false", "metrics=[sc]"]))
    assert good.exit_code == 0 and good.failed == []
    assert read_rows(tmp_path / "good" / "rows.csv").iloc[0]["status"] == "ok"
    # Hydra stopping by itself: --help exits 0, a bad override 1 (its own message)
    assert run_app(["--help"]).exit_code == 0
    wrong = run_app(["inverter=nosuch", "hydra.run.dir=x"])
    assert wrong.hydra_exit == 1 and wrong.exit_code == 1


def test_run_app_sweep_outcome_counts_each_failed_cell_once(tmp_path, monkeypatch):
    from melbench.app import run_app
    from melbench.hydra_configs import register_hydra_configs

    register_hydra_configs()
    monkeypatch.chdir(tmp_path)
    out = run_app(["-m", ONE_CLIP, "phase.n_iter=3", "phase.alpha=0.5,7", "metrics=[sc]",
                   "progress=false", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert out.exit_code == 1 and out.hydra_exit is None
    # the failing cell is reported by its task and again by the sweep's end: counted once
    assert len(out.failed) == 1 and "alpha" in out.failed[0]
    rows = read_rows(tmp_path / "s" / "rows.csv")
    assert sorted(rows["status"]) == ["failed", "ok"]


# --------------------------------------------------------------------------- failure rows


def test_cell_failure_rows_have_every_row_column(tmp_path):
    """Set-up and dataset failures give one ``clip == "*"`` row with the same columns as a clip."""
    from melbench import runner
    from melbench.columns import CLIP_COLUMNS, ID_COLUMNS, STATUS_COLUMNS

    base = {"spec": "speech16k", "inverter": {"name": "pinv"}, "metrics": ["sc"],
            "metric_jobs": 1, "cache_dir": None, "progress": False}
    with pytest.raises(runner.CellError, match="cannot set up this cell.*alpha"):
        runner.run({**base, "dataset": {"name": "bundled"}, "phase": {"name": "fgla", "alpha": 5}},
                   tmp_path / "setup", echo=False)
    with pytest.raises(runner.CellError, match="dataset folder"):
        runner.run({**base, "dataset": {"name": "folder", "path": str(tmp_path / "none")},
                    "phase": {"name": "fgla", "n_iter": 2}}, tmp_path / "data", echo=False)
    ok = runner.run({**base, "dataset": {"name": "bundled", "ids": ["cmu_arctic_a0007"]},
                     "phase": {"name": "fgla", "n_iter": 2}}, tmp_path / "ok", echo=False)
    first = [*ID_COLUMNS, *CLIP_COLUMNS, *STATUS_COLUMNS]
    setup = read_rows(tmp_path / "setup" / "rows.csv")
    data = read_rows(tmp_path / "data" / "rows.csv")
    assert list(ok.columns[: len(first)]) == first
    for rows, where in ((setup, "setup"), (data, "data")):
        assert list(rows.columns[: len(first)]) == first, where
        r = rows.iloc[-1]
        assert r["clip"] == "*" and r["status"] == "failed" and r["inverter"] == "pinv", where
    # the dataset failure knows the whole cell: its spec, degradation and content key
    r = data.iloc[-1]
    assert r["spec"] == ok.loc[0, "spec"] and r["degrade"] == "none"
    assert r["cell_key"] == json.loads((tmp_path / "data" / "run.json").read_text())["cell_key"]
    assert "folder" in r["error"] and r["dataset"].startswith("folder")


def test_failure_row_helper():
    from melbench.columns import ID_COLUMNS, blank_row, failure_row

    row = failure_row(None, "phase: boom", dataset="d", clip="*", cell_key="k")
    assert list(row)[: len(ID_COLUMNS)] == list(ID_COLUMNS) and list(row)[-1] == "cell_key"
    assert (row["status"], row["error"], row["degrade"], row["notes"]) == \
        ("failed", "phase: boom", "none", "")
    clip_row = blank_row(clip="a", sc_db=-20.0)
    same = failure_row(clip_row, "skipped: short", status="skipped")
    assert same is clip_row and clip_row["status"] == "skipped" and clip_row["sc_db"] == -20.0
    with pytest.raises(ValueError, match="'ok'.*use 'failed' or 'skipped'"):
        failure_row(None, "x", status="ok")
    with pytest.raises(ValueError, match="needs the reason"):
        failure_row(None, "")
