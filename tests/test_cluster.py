"""issue 18: sweeps on a real single-node SLURM cluster and a real local Ray cluster.

Marked ``cluster`` (excluded from the default run); ``make test-cluster`` runs them. They
install what they need (slurm-wlm + munge with apt-get, ray with pip), start the services
on 127.0.0.1 inside a private network namespace (see tests/cluster_services.py), and stop
them afterwards, also on failure.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from melbench.results import read_rows

sys.path.insert(0, str(Path(__file__).parent))
import cluster_services as cs  # noqa: E402

pytestmark = pytest.mark.cluster

TIMING = ["t_invert", "t_phase", "t_synth", "rtf"]
CLIPS = ["cmu_arctic_a0007", "allison_tt-allbusy"]


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if c not in TIMING and c != "cell_key"]
    return df[keep].sort_values(["inverter", "phase", "clip", "seed"]).reset_index(drop=True)


def melbench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "melbench.cli", "run", *args]


def pinned_env(env: dict) -> dict:
    # cell keys hash the plugins' source: pin it (the working tree may change meanwhile)
    return {**env, "MELBENCH_CODE_VERSION": "test-cluster"}


def run_local(tmp: Path, args: list[str], name: str) -> pd.DataFrame:
    import subprocess

    out = tmp / name
    p = subprocess.run(melbench_cmd("-m", *args, f"hydra.sweep.dir={out}", "cache_dir=null"),
                       cwd=tmp, env=pinned_env(dict(os.environ)), capture_output=True, text=True,
                       timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return read_rows(out / "rows.csv")


#: Target seconds per clip of the requeue test's cell (6 bundled clips: about 50 s of work,
#: more than the signal's 0-60 s into an attempt, and 1-2 clips per attempt after start-up).
CLIP_SECONDS = 8.0

SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=1"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cs.ensure_slurm()
    with cs.slurm_cluster(tmp_path_factory.mktemp("slurm")) as (ns, env):
        yield ns, pinned_env(env)


def test_slurm_sweep_rows_equal_the_local_sweep(slurm, tmp_path):
    ns, env = slurm
    sweep = [f"dataset.ids=[{','.join(CLIPS)}]", "phase.n_iter=5", "inverter=pinv,transpose",
             "phase=gla,fgla", "metric_jobs=1", "progress=false"]
    local = run_local(tmp_path, sweep, "local")
    out = tmp_path / "slurm"
    p = ns.run(melbench_cmd("-m", *sweep, *SLURM, "hydra.launcher.timeout_min=10",
                            f"hydra.sweep.dir={out}", f"cache_dir={tmp_path / 'cache'}"),
               check=False, cwd=tmp_path, env=env, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    rows = read_rows(out / "rows.csv")
    assert len(rows) == 8 and (rows["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(rows), comparable(local), check_dtype=False)
    # each cell ran as a task of a SLURM job array of this cluster, in the partition asked for
    logs = sorted((out / ".submitit").rglob("*_log.out"))
    assert len(logs) == 4, logs
    assert all("Starting with JobEnvironment(job_id=" in q.read_text() for q in logs)
    scripts = list((out / ".submitit").rglob("*_submission.sh"))
    assert scripts and "#SBATCH --partition=debug" in scripts[0].read_text()


def test_slurm_job_killed_by_its_time_limit_is_requeued_and_resumes_from_the_cache(slurm, tmp_path):
    """A cell that needs more than its time limit: SLURM signals it (USR2, signal_delay_s before
    the limit), submitit requeues it (max_num_timeout), the rerun takes the stored rows from the
    cache and computes only the rest: same rows as an uninterrupted local run, none lost or doubled.
    """
    ns, env = slurm
    # The cell must outlast the first signal (up to 60 s into an attempt) while each clip fits
    # in one attempt, on a quiet or a busy machine alike: size fgla's iteration count from a
    # short calibration run on this machine now, for about CLIP_SECONDS per clip (6 clips).
    calib = run_local(tmp_path, ["inverter=pinv", "phase=fgla", "phase.n_iter=300",
                                 f"dataset.ids=[{CLIPS[0]}]", "metric_jobs=1", "progress=false"],
                      "calibrate")
    per_iter = float(calib["t_phase"].iloc[0]) / 300
    n_iter = int(min(max(CLIP_SECONDS / max(per_iter, 1e-6), 1000), 200_000))
    cell = ["inverter=pinv", "phase=fgla", f"phase.n_iter={n_iter}", "metric_jobs=1",
            "progress=false"]
    local = run_local(tmp_path, cell, "local")
    out, cache = tmp_path / "slurm", tmp_path / "cache"
    # 3 min limit, USR2 120 s before it (SLURM sends it up to a minute early: 0-60 s into each
    # attempt; observed 30-40 s, after submitit has set its handler; a signal during Python's
    # start-up would just kill the task): the cell needs longer than one attempt, each clip less
    p = ns.run(melbench_cmd("-m", *cell, *SLURM, "hydra.launcher.timeout_min=3",
                            "hydra.launcher.signal_delay_s=120", "hydra.launcher.max_num_timeout=12",
                            f"hydra.sweep.dir={out}", f"cache_dir={cache}"),
               check=False, cwd=tmp_path, env=env, timeout=3600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    logs = "\n".join(f.read_text(errors="replace") for f in (out / ".submitit").rglob("*_log.*"))
    assert "this job is timed-out" in logs, logs[-3000:]
    # slurmstepd's own line: the job was requeued by SLURM (scontrol requeue from submitit)
    assert "DUE TO JOB REQUEUE" in logs, logs[-3000:]
    rows = read_rows(out / "rows.csv")
    assert not rows.duplicated(["inverter", "phase", "clip", "seed"]).any()
    assert len(rows) == len(local) and (rows["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(rows), comparable(local), check_dtype=False)
    info = json.loads(next(out.glob("*/run.json")).read_text())
    # the last attempt took what earlier attempts stored and computed only the rest
    assert info["from_cache"] >= 1 and info["from_cache"] + info["computed"] == len(local), info
    stored = [q for q in cache.rglob("*.json") if q.name != "cell.json"]
    assert len(stored) == len(local)


# --------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_env(tmp_path_factory):
    cs.ensure_ray()
    with cs.ray_cluster(tmp_path_factory.mktemp("ray")) as (ns, env, address):
        yield ns, pinned_env(env), address


def test_ray_sweep_rows_equal_the_local_sweep(ray_env, tmp_path):
    """hydra/launcher=ray_cluster: Hydra's Ray launcher joins the started cluster, one task per cell."""
    ns, env, address = ray_env
    sweep = [f"dataset.ids=[{','.join(CLIPS)}]", "phase.n_iter=5", "inverter=pinv,transpose",
             "phase=gla,fgla", "metric_jobs=1", "progress=false"]
    local = run_local(tmp_path, sweep, "local")
    out = tmp_path / "ray"
    p = ns.run(melbench_cmd("-m", *sweep, "hydra/launcher=ray_cluster",
                            f"hydra.launcher.ray.init.address={address}",
                            f"hydra.sweep.dir={out}", "cache_dir=null"),
               check=False, cwd=tmp_path, env=env, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    log = p.stdout + p.stderr
    assert f"Connecting to existing Ray cluster at address: {address}" in log, log[-3000:]
    rows = read_rows(out / "rows.csv")
    assert len(rows) == 8 and (rows["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(rows), comparable(local), check_dtype=False)
    # the cells ran as Ray tasks (Ray prefixes their output with the remote task's name)
    assert log.count("(_run_job pid=") >= 1, log[-3000:]
