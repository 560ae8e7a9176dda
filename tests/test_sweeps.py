"""Sweeps: content-keyed cache, resume after a real kill, joblib/submitit launchers, seeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from melbench import registry, runner
from melbench.cache import cell_key, clip_key
from melbench.datasets.base import Clip
from melbench.plugin import PhaseRetriever
from melbench.results import read_rows

CLIPS = ["cmu_arctic_a0007", "allison_tt-allbusy"]
TIMING = ["t_invert", "t_phase", "t_synth", "rtf"]
SWEEP = ["inverter=pinv,transpose", "phase=gla,fgla"]


def cfg(inverter="pinv", phase="gla", seed=0, cache_dir=None, **extra):
    c = {
        "dataset": {"name": "bundled", "ids": list(CLIPS)},
        "spec": "speech16k",
        "inverter": {"name": inverter},
        "phase": {"name": phase, "n_iter": 5},
        "metrics": ["sc", "mel_sc", "timing"],
        "metric_jobs": 1,
        "seed": seed,
        "cache_dir": str(cache_dir) if cache_dir else None,
        "progress": False,
    }
    c.update(extra)
    return c


def melbench_run(args, cwd, **kw):
    cmd = [sys.executable, "-m", "melbench.cli", "run", *args]
    # cell keys hash the plugins' source; pin it so that edits made to the working tree while
    # the test runs (several developers share it) cannot change keys between the two runs
    env = {**os.environ, "MELBENCH_CODE_VERSION": "test-sweeps"}
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, **kw)


def sweep_args(sweep_dir, cache_dir, *extra, clips=CLIPS):
    return ["-m", f"dataset.ids=[{','.join(clips)}]", "phase.n_iter=5", *SWEEP,
            f"hydra.sweep.dir={sweep_dir}", f"cache_dir={cache_dir}", "metric_jobs=1", *extra]


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    # timing is noise; cell_key hashes the source code too, which may be edited between runs
    keep = [c for c in df.columns if c not in TIMING and c != "cell_key"]
    return df[keep].sort_values(["inverter", "phase", "clip"]).reset_index(drop=True)


# --------------------------------------------------------------------------- keys


def test_cell_key_is_content_not_order():
    base = dict(dataset="d", spec_key="s", inverter="pinv", phase="gla[n_iter=5]", seed=0)
    k1, _ = cell_key(metrics=["sc", "timing"], **base)
    k2, _ = cell_key(metrics=["timing", "sc"], **base)
    assert k1 == k2
    assert cell_key(metrics=["sc"], **{**base, "seed": 1})[0] != cell_key(metrics=["sc"], **base)[0]
    assert cell_key(metrics=["sc"], degrade="noise[snr_db=20]", **base)[0] != \
        cell_key(metrics=["sc"], **base)[0]
    assert cell_key(metrics=["sc"], code="a", **base)[0] != cell_key(metrics=["sc"], code="b",
                                                                     **base)[0]


def test_clip_key_follows_samples():
    a = Clip("x", np.zeros(100, np.float32), 16000)
    b = Clip("x", np.ones(100, np.float32), 16000)
    assert clip_key(a) == clip_key(Clip("x", np.zeros(100, np.float32), 16000))
    assert clip_key(a) != clip_key(b)
    assert clip_key(a) != clip_key(Clip("y", np.zeros(100, np.float32), 16000))


# --------------------------------------------------------------------------- cache in-process


def test_rerun_comes_from_cache_and_force_recomputes(tmp_path):
    cache = tmp_path / "cache"
    first = runner.run(cfg(cache_dir=cache), tmp_path / "a", echo=False)
    info = json.loads((tmp_path / "a" / "run.json").read_text())
    assert info["complete"] and info["computed"] == len(CLIPS) and info["from_cache"] == 0
    again = runner.run(cfg(cache_dir=cache), tmp_path / "b", echo=False)
    info = json.loads((tmp_path / "b" / "run.json").read_text())
    assert info["from_cache"] == len(CLIPS) and info["computed"] == 0
    pd.testing.assert_frame_equal(comparable(first), comparable(again))
    pd.testing.assert_frame_equal(read_rows(tmp_path / "a" / "rows.csv"),
                                  read_rows(tmp_path / "b" / "rows.csv"))
    runner.run(cfg(cache_dir=cache, force=True), tmp_path / "c", echo=False)
    assert json.loads((tmp_path / "c" / "run.json").read_text())["from_cache"] == 0
    # another seed is another cell
    runner.run(cfg(cache_dir=cache, seed=1), tmp_path / "d", echo=False)
    assert json.loads((tmp_path / "d" / "run.json").read_text())["from_cache"] == 0


class Flaky(PhaseRetriever):
    """Fails on the long clip (about 9 s), works on the short one (4 s)."""

    name: ClassVar[str] = "flaky_test"

    @dataclass
    class Params:
        """No parameters."""

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        if magnitude.shape[-1] * spec.hop_length > 6 * spec.sample_rate:
            raise RuntimeError("boom")
        return magnitude.astype(np.complex64)


def test_failures_are_recorded_not_cached(tmp_path):
    registry.register("phase", Flaky)
    try:
        cache = tmp_path / "cache"
        c = cfg(phase="flaky_test", cache_dir=cache)
        c["phase"] = {"name": "flaky_test"}
        df = runner.run(c, tmp_path / "a", echo=False)
        n_failed = int((df["status"] == "failed").sum())
        assert 0 < n_failed < len(df), "the test needs one failing and one scored clip"
        assert df.loc[df["status"] == "failed", "error"].str.contains("boom").all()
        stored = [p for p in cache.rglob("*.json") if p.name != "cell.json"]
        assert len(stored) == len(df) - n_failed
        runner.run(c, tmp_path / "b", echo=False)
        info = json.loads((tmp_path / "b" / "run.json").read_text())
        assert info["from_cache"] == len(df) - n_failed and info["computed"] == n_failed
    finally:
        registry.unregister("phase", "flaky_test")


def test_save_audio_writes_estimate_and_reference_also_from_cache(tmp_path):
    cache = tmp_path / "cache"
    for run_dir in ("a", "b"):  # b comes from the cache
        runner.run(cfg(cache_dir=cache, save_audio=1), tmp_path / run_dir, echo=False)
        rows = read_rows(tmp_path / run_dir / "rows.csv")
        est, ref = runner.audio_paths(tmp_path / run_dir, rows["clip"].iloc[0])
        assert est.is_file() and ref.is_file()
        assert not runner.audio_paths(tmp_path / run_dir, rows["clip"].iloc[1])[0].exists()
    assert json.loads((tmp_path / "b" / "run.json").read_text())["from_cache"] == len(CLIPS)


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    cache = tmp_path / "cache"
    runner.run(cfg(cache_dir=cache), tmp_path / "a", echo=False)
    entry = next(p for p in cache.rglob("*.json") if p.name != "cell.json")
    entry.write_text('{"row": {"status": "ok", "clip"')  # truncated
    runner.run(cfg(cache_dir=cache), tmp_path / "b", echo=False)
    info = json.loads((tmp_path / "b" / "run.json").read_text())
    assert info["computed"] == 1 and info["from_cache"] == len(CLIPS) - 1


# --------------------------------------------------------------------------- real sweeps


def test_killed_parallel_sweep_resumes_to_the_uninterrupted_rows(tmp_path):
    """A joblib sweep killed with SIGKILL (whole process group), rerun: same rows, no dups.

    One clip per cell, four cells: the kill lands after the first stored row.
    """
    # uninterrupted reference, in this process, without a cache
    ref = pd.concat([runner.run(cfg(i, p, dataset={"name": "bundled", "ids": CLIPS[:1]}),
                                tmp_path / f"ref_{i}_{p}", echo=False)
                     for i in ("pinv", "transpose") for p in ("gla", "fgla")], ignore_index=True)
    cache = tmp_path / "cache"
    proc = melbench_run(sweep_args(tmp_path / "killed", cache, "hydra/launcher=joblib",
                                   "hydra.launcher.n_jobs=2", clips=CLIPS[:1]),
                        tmp_path, start_new_session=True)
    deadline = time.monotonic() + 120
    n_stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        n_stored = sum(1 for p in cache.rglob("*.json") if p.name != "cell.json") \
            if cache.exists() else 0
        if n_stored >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "sweep ended before it could be killed:\n" + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    n_cached = sum(1 for p in cache.rglob("*.json") if p.name != "cell.json")
    assert 1 <= n_cached < len(ref), "the kill must land part-way"
    assert not (tmp_path / "killed" / "rows.csv").exists()  # the sweep never finished

    resumed = melbench_run(sweep_args(tmp_path / "resumed", cache, clips=CLIPS[:1]), tmp_path)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    rows = read_rows(tmp_path / "resumed" / "rows.csv")
    assert not rows.duplicated(["inverter", "phase", "clip", "seed"]).any()
    assert len(rows) == len(ref)
    pd.testing.assert_frame_equal(comparable(rows), comparable(ref), check_dtype=False)
    infos = [json.loads(p.read_text()) for p in (tmp_path / "resumed").glob("*/run.json")]
    assert sum(i["from_cache"] for i in infos) >= n_cached  # nothing stored was recomputed
    assert sum(i["computed"] for i in infos) == len(ref) - sum(i["from_cache"] for i in infos)
    assert "cells [" in out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


SUBMITIT = pytest.mark.skipif(not _has("hydra_plugins.hydra_submitit_launcher"),
                              reason="hydra-submitit-launcher not installed (melbench[slurm])")


@SUBMITIT
def test_slurm_launcher_config_composes(tmp_path):
    p = melbench_run(["hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0, out
    assert "SlurmLauncher" in out and "max_num_timeout: 2" in out


@SUBMITIT
@pytest.mark.slow
def test_submitit_local_launcher_runs_a_sweep(tmp_path):
    p = melbench_run(["-m", "hydra/launcher=slurm_local", "dataset.ids=[cmu_arctic_a0007]",
                      "phase.n_iter=3", "inverter=pinv", "phase=gla,fgla", "seed=0,1",
                      f"hydra.sweep.dir={tmp_path / 'sw'}", "cache_dir=null"], tmp_path)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out
    rows = read_rows(tmp_path / "sw" / "rows.csv")
    assert len(rows) == 4 and (rows["status"] == "ok").all()
    assert sorted(rows["seed"].unique()) == [0, 1]
    assert (tmp_path / "sw" / ".submitit").is_dir()
