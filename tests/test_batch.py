"""issue 18: many mels at once: melbench.batch.invert_batch and `melbench invert --jobs N`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf

import melbench
from melbench import batch, registry, workers
from melbench.errors import InputError, ParameterError
from melbench.invert_cli import main as invert_main
from melbench.plugin import PhaseRetriever
from melbench.spec import get_spec
from melbench.testing import conformance_signal

SPEC = get_spec("speech16k")
PH = ["--spec", "speech16k", "--inverter", "pinv", "--phase", "fgla", "--phase-param", "n_iter=5"]


def mels_of_lengths(seconds):
    return [SPEC.mel(conformance_signal(SPEC.sample_rate, seconds=s, seed=i))
            for i, s in enumerate(seconds)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_invert_batch_equals_invert_per_item(jobs):
    mels = mels_of_lengths([0.5, 1.3, 0.8])
    out = melbench.invert_batch(mels, SPEC, "pinv", "fgla", n_iter=5, seed=2, jobs=jobs,
                             lengths=[None, 20000, None])
    ref = [melbench.invert(m, SPEC, "pinv", "fgla", n_iter=5, seed=2, length=n)
           for m, n in zip(mels, [None, 20000, None], strict=True)]
    assert [y.shape for y in out] == [y.shape for y in ref]
    assert out[1].shape == (20000,)
    for a, b in zip(out, ref, strict=True):
        assert np.array_equal(a, b)


def test_invert_batch_bad_item_raise_or_return():
    mels = mels_of_lengths([0.5, 0.6])
    mels.insert(1, mels[0].T.copy())  # transposed
    with pytest.raises(InputError, match=r"mels\[1\]: .*transposed"):
        batch.invert_batch(mels, SPEC, "pinv", "fgla", n_iter=2, jobs=2)
    out = batch.invert_batch(mels, SPEC, "pinv", "fgla", n_iter=2, jobs=2, errors="return")
    assert isinstance(out[1], InputError) and "transposed" in str(out[1])
    assert out[0].ndim == 1 and out[2].ndim == 1
    with pytest.raises(ParameterError, match="list of"):
        batch.invert_batch(np.stack([mels[0], mels[0]]), SPEC)
    with pytest.raises(ParameterError, match="2 lengths for 3 mels"):
        batch.invert_batch(mels, SPEC, lengths=[1, 2])
    with pytest.raises(ParameterError, match="jobs=-2"):
        batch.invert_batch(mels, SPEC, jobs=-2)


def _worker_facts(_):
    from threadpoolctl import threadpool_info

    return os.getpid(), os.environ.get("OMP_NUM_THREADS"), [i["num_threads"] for i in threadpool_info()]


def test_workers_run_one_thread_each():
    cell = batch.Cell.of(SPEC, registry.create("inverter", "pinv"),
                         registry.create("phase", "fgla", {"n_iter": 1}))
    facts = dict(workers.run_in_pool(_worker_facts, [0, 1, 2, 3], [0, 1, 2, 3], cell, 2))
    pids = {f[0] for f in facts.values()}
    assert os.getpid() not in pids
    for _, omp, threads in facts.values():
        assert omp == "1"
        assert threads and all(n == 1 for n in threads), threads


@pytest.fixture()
def mel_dir(tmp_path):
    d = tmp_path / "mels"
    (d / "sub").mkdir(parents=True)
    for i, m in enumerate(mels_of_lengths([0.4, 0.9, 0.6, 1.2, 0.5])):
        np.save(d / ("sub" if i % 2 else "") / f"m{i}.npy", m.astype(np.float32))
    np.save(d / "bad.npy", np.zeros((3, 9), np.float32))
    return d


def test_cli_jobs_gives_the_one_process_wavs_and_the_same_failures(mel_dir, tmp_path, capsys):
    assert invert_main([str(mel_dir), "-o", str(tmp_path / "one"), *PH, "--jobs", "1", "-q"]) == 1
    err1 = capsys.readouterr().err
    assert invert_main([str(mel_dir), "-o", str(tmp_path / "two"), *PH, "--jobs", "2", "-q"]) == 1
    err2 = capsys.readouterr().err
    # forked workers did the work (under load one of the two may take every file)
    assert re.search(r"[12] worker processes, peak memory per worker", err2), err2
    assert "worker processes" not in err1
    for err in (err1, err2):
        assert "5/6 converted" in err and "mel has 3 bands" in err.split("bad.npy: ", 1)[-1]
    wavs = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.wav"))
    assert len(wavs) == 5 and any(str(w).startswith("sub") for w in wavs)
    for w in wavs:
        a, sr = sf.read(str(tmp_path / "one" / w), dtype="float32")
        b, _ = sf.read(str(tmp_path / "two" / w), dtype="float32")
        assert sr == SPEC.sample_rate and np.array_equal(a, b)


def test_cli_jobs_argument_error(mel_dir, tmp_path, capsys):
    assert invert_main([str(mel_dir), "-o", str(tmp_path / "o"), *PH, "--jobs", "-1"]) == 2
    assert "--jobs -1" in capsys.readouterr().err


class Boom(PhaseRetriever):
    """Fails on mels longer than 50 frames (registered in this process only)."""

    name: ClassVar[str] = "boom_test"

    @dataclass
    class Params:
        """No parameters."""

    def retrieve(self, magnitude, spec, *, init, rng, trace):
        if magnitude.shape[-1] > 50:
            raise RuntimeError("boom")
        return magnitude.astype(np.complex64)


def test_cli_jobs_with_a_plugin_registered_in_process(mel_dir, tmp_path, capsys):
    """Forked workers see this process's registry; per-file failures are reported as today."""
    registry.register("phase", Boom)
    try:
        code = invert_main([str(mel_dir), "-o", str(tmp_path / "o"), "--spec", "speech16k",
                            "--inverter", "pinv", "--phase", "boom_test", "--jobs", "2", "-q"])
    finally:
        registry.unregister("phase", "boom_test")
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("RuntimeError: boom") == 2  # m1 (0.9 s) and m3 (1.2 s)
    assert "m1.npy: phase: RuntimeError: boom" in err and "3/6 converted" in err
    assert "mel has 3 bands" in err.split("bad.npy: ", 1)[-1]
