"""Corpus, manifest, synthetic and mels datasets on tiny fixture trees with the real layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from melbench import registry
from melbench.datasets.mels import load_mel_file
from melbench.datasets.synthetic import SIGNALS, synthetic_signal
from melbench.errors import InputError, ParameterError
from melbench.spec import get_spec

SPEC = get_spec("speech16k")


def tone(seconds: float, sr: int, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def write(path: Path, seconds: float, sr: int, f: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, sr, f), sr)
    return path


def clips(name: str, **params):
    return list(registry.create("dataset", name, params).clips(SPEC))


# --------------------------------------------------------------------------- fixture trees


def make_ljspeech(root: Path, n: int = 4) -> Path:
    lines = []
    for i in range(1, n + 1):
        uid = f"LJ001-{i:04d}"
        write(root / "wavs" / f"{uid}.wav", 0.2 + 0.1 * i, 22050, 200 + 50 * i)
        lines.append(f"{uid}|Text {i}, raw.|Text {i}, normalized.")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def make_vctk(root: Path) -> Path:
    for spk in ("p225", "p226"):
        for utt in ("001", "002"):
            for mic in ("mic1", "mic2"):
                write(root / "wav48_silence_trimmed" / spk / f"{spk}_{utt}_{mic}.flac", 0.3, 48000)
            t = root / "txt" / spk / f"{spk}_{utt}.txt"
            t.parent.mkdir(parents=True, exist_ok=True)
            t.write_text(f"Please call {spk} {utt}.\n")
    return root


def make_librispeech(root: Path) -> Path:
    for spk, ch in (("84", "121123"), ("174", "50561")):
        d = root / "dev-clean" / spk / ch
        lines = []
        for u in range(2):
            uid = f"{spk}-{ch}-{u:04d}"
            write(d / f"{uid}.flac", 0.3, 16000)
            lines.append(f"{uid} WORDS OF {spk} NUMBER {u}")
        (d / f"{spk}-{ch}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def make_arctic(root: Path) -> Path:
    for spk in ("bdl", "slt"):
        d = root / f"cmu_us_{spk}_arctic"
        for u in ("a0001", "a0002"):
            write(d / "wav" / f"arctic_{u}.wav", 0.3, 16000)
        (d / "etc").mkdir(parents=True)
        (d / "etc" / "txt.done.data").write_text(
            '( arctic_a0001 "Author of the danger trail." )\n'
            '( arctic_a0002 "Not at this particular case." )\n'
        )
    return root


# --------------------------------------------------------------------------- corpora


def test_ljspeech_yields_clips_with_text_at_spec_rate(tmp_path):
    root = make_ljspeech(tmp_path / "LJSpeech-1.1")
    out = clips("ljspeech", root=str(root))
    assert [c.id for c in out] == [f"LJ001-{i:04d}" for i in range(1, 5)]
    c = out[0]
    assert c.error is None and c.audio.dtype == np.float32 and c.sample_rate == 16000
    assert c.meta["text"] == "Text 1, normalized." and c.meta["source_sample_rate"] == 22050
    assert c.duration == pytest.approx(0.3, abs=1e-3)
    # the parent folder of LJSpeech-1.1 works too
    assert len(clips("ljspeech", root=str(tmp_path))) == 4


def test_ljspeech_missing_wav_becomes_failed_clip(tmp_path):
    root = make_ljspeech(tmp_path / "lj")
    (root / "wavs" / "LJ001-0002.wav").unlink()
    out = clips("ljspeech", root=str(root))
    bad = [c for c in out if c.error]
    assert [c.id for c in bad] == ["LJ001-0002"] and "not found" in bad[0].error


@pytest.mark.parametrize("name, make, hint", [
    ("ljspeech", lambda r: (r / "wavs").mkdir(parents=True), "metadata.csv"),
    ("vctk", lambda r: (r / "p225").mkdir(parents=True), "wav48_silence_trimmed"),
    ("librispeech", lambda r: (r / "train").mkdir(parents=True), "<speaker>/<chapter>"),
    ("arctic", lambda r: (r / "wav").mkdir(parents=True), "cmu_us_<spk>_arctic"),
])
def test_malformed_tree_names_expected_layout(tmp_path, name, make, hint):
    make(tmp_path / "c")
    with pytest.raises(InputError, match="expected layout") as err:
        clips(name, root=str(tmp_path / "c"))
    assert hint in str(err.value)
    with pytest.raises(InputError, match="not a directory"):
        clips(name, root=str(tmp_path / "missing"))


def test_root_is_required():
    with pytest.raises(ParameterError, match=r"dataset.root=.*expected layout"):
        registry.create("dataset", "ljspeech", {})


def test_ljspeech_bad_metadata_line(tmp_path):
    root = make_ljspeech(tmp_path / "lj")
    (root / "metadata.csv").write_text("just some words\n")
    with pytest.raises(InputError, match="line 1"):
        clips("ljspeech", root=str(root))


def test_vctk_mic_selection_speakers_and_text(tmp_path):
    root = make_vctk(tmp_path / "VCTK-Corpus-0.92")
    out = clips("vctk", root=str(root))
    assert [c.id for c in out] == ["p225_001", "p225_002", "p226_001", "p226_002"]
    assert all(c.meta["path"].endswith("_mic1.flac") for c in out)
    assert out[0].meta["text"] == "Please call p225 001." and out[0].meta["speaker"] == "p225"
    mic2 = clips("vctk", root=str(root), mic="mic2", speakers=["p226"])
    assert [c.id for c in mic2] == ["p226_001", "p226_002"]
    assert all(c.meta["path"].endswith("_mic2.flac") for c in mic2)
    with pytest.raises(InputError, match=r"unknown speaker.*p999.*p225"):
        clips("vctk", root=str(root), speakers=["p999"])
    with pytest.raises(ParameterError, match="mic"):
        registry.create("dataset", "vctk", {"root": str(root), "mic": "mic3"})


def test_vctk_old_wav48_layout(tmp_path):
    for spk in ("p225", "p226"):
        write(tmp_path / "wav48" / spk / f"{spk}_001.wav", 0.2, 48000)
    out = clips("vctk", root=str(tmp_path))
    assert [(c.id, c.meta["speaker"]) for c in out] == [("p225_001", "p225"), ("p226_001", "p226")]


def test_librispeech_split_and_transcripts(tmp_path):
    root = make_librispeech(tmp_path / "LibriSpeech")
    out = clips("librispeech", root=str(root))
    assert [c.id for c in out] == ["174-50561-0000", "174-50561-0001",
                                   "84-121123-0000", "84-121123-0001"]
    assert out[2].meta["text"] == "WORDS OF 84 NUMBER 0" and out[2].meta["speaker"] == "84"
    # the split folder itself as root
    assert len(clips("librispeech", root=str(root / "dev-clean"))) == 4
    with pytest.raises(InputError, match=r"no split folder 'test-other'.*dev-clean"):
        clips("librispeech", root=str(root), split="test-other")


def test_arctic_speakers_and_prompts(tmp_path):
    make_arctic(tmp_path)
    out = clips("arctic", root=str(tmp_path))
    assert [c.id for c in out] == ["bdl_arctic_a0001", "bdl_arctic_a0002",
                                   "slt_arctic_a0001", "slt_arctic_a0002"]
    assert out[0].meta["text"] == "Author of the danger trail."
    one = clips("arctic", root=str(tmp_path / "cmu_us_slt_arctic"))
    assert {c.meta["speaker"] for c in one} == {"slt"}


def test_subset_is_seeded_and_sized(tmp_path):
    root = make_ljspeech(tmp_path / "lj", n=8)
    ids = lambda seed: [c.id for c in clips("ljspeech", root=str(root), subset=3, seed=seed)]  # noqa: E731
    a, b = ids(0), ids(0)
    assert a == b and len(a) == 3 and len(set(a)) == 3
    assert any(ids(s) != a for s in range(1, 6))


def test_duration_limits_crop_or_skip(tmp_path):
    root = make_ljspeech(tmp_path / "lj", n=4)  # 0.3, 0.4, 0.5, 0.6 s
    cropped = clips("ljspeech", root=str(root), max_duration=0.45)
    assert len(cropped) == 4 and max(c.duration for c in cropped) == pytest.approx(0.45, abs=1e-3)
    assert "cropped_from" in cropped[-1].meta
    skipped = clips("ljspeech", root=str(root), max_duration=0.45, on_long="skip")
    assert [c.id for c in skipped] == ["LJ001-0001", "LJ001-0002"]
    longer = clips("ljspeech", root=str(root), min_duration=0.45)
    assert [c.id for c in longer] == ["LJ001-0003", "LJ001-0004"]
    with pytest.raises(InputError, match="no utterance left"):
        clips("ljspeech", root=str(root), min_duration=5.0)
    with pytest.raises(ParameterError, match="on_long"):
        registry.create("dataset", "ljspeech", {"root": str(root), "on_long": "trim"})


# --------------------------------------------------------------------------- manifest


def test_manifest_csv_and_jsonl(tmp_path):
    write(tmp_path / "audio" / "a.wav", 0.2, 16000)
    write(tmp_path / "audio" / "b.flac", 0.3, 8000)
    (tmp_path / "list.csv").write_text("path,text,speaker\naudio/a.wav,hello,s1\naudio/b.flac,bye,s2\n")
    out = clips("manifest", path=str(tmp_path / "list.csv"))
    assert [c.id for c in out] == ["audio/a", "audio/b"]
    assert out[1].meta["text"] == "bye" and out[1].meta["speaker"] == "s2" and out[1].error is None
    assert out[1].meta["source_sample_rate"] == 8000 and out[1].sample_rate == 16000
    rows = [{"audio_filepath": str(tmp_path / "audio" / "a.wav"), "id": "first"},
            {"audio_filepath": "b.flac", "id": "second"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = clips("manifest", path=str(tmp_path / "m.jsonl"), root=str(tmp_path / "audio"),
                speakers=[])
    assert [c.id for c in out] == ["first", "second"] and all(c.error is None for c in out)


def test_manifest_errors(tmp_path):
    (tmp_path / "x.csv").write_text("name,text\na.wav,hi\n")
    with pytest.raises(InputError, match="no path column"):
        clips("manifest", path=str(tmp_path / "x.csv"))
    (tmp_path / "y.jsonl").write_text('{"path": "a.wav"}\nnot json\n')
    with pytest.raises(InputError, match="line 2"):
        clips("manifest", path=str(tmp_path / "y.jsonl"))
    with pytest.raises(InputError, match="not found"):
        clips("manifest", path=str(tmp_path / "none.csv"))
    (tmp_path / "z.csv").write_text("path\nmissing.wav\n")
    (c,) = clips("manifest", path=str(tmp_path / "z.csv"))
    assert c.error and "not found" in c.error


# --------------------------------------------------------------------------- synthetic


def test_synthetic_signals_deterministic_at_spec_rate():
    out = clips("synthetic", duration=0.5)
    assert [c.id for c in out] == list(SIGNALS)
    for c in out:
        assert c.sample_rate == 16000 and c.audio.shape == (8000,) and c.audio.dtype == np.float32
        assert 0 < np.max(np.abs(c.audio)) <= 0.5 + 1e-6
    again = clips("synthetic", duration=0.5)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(out, again, strict=True))
    noise_other = synthetic_signal("noise", 16000, 0.5, seed=1)
    assert not np.array_equal(noise_other, out[3].audio)
    gap = out[-1].audio
    assert np.all(gap[len(gap) // 3 + 1: 2 * len(gap) // 3 - 1] == 0)
    # the chirp sweeps: its energy moves up in frequency
    mag = SPEC.magnitude(out[0].audio)
    peaks = mag.argmax(axis=0)
    assert peaks[-5] > peaks[5]
    assert [c.id for c in clips("synthetic", duration=0.1, signals=["noise"])] == ["noise"]
    with pytest.raises(ParameterError, match="unknown synthetic"):
        registry.create("dataset", "synthetic", {"signals": ["sine"]})


def test_synthetic_at_any_rate():
    y = synthetic_signal("harmonic", 44100, 0.25)
    assert y.shape == (11025,)
    spec = get_spec("tts22k")
    (c,) = registry.create("dataset", "synthetic", {"signals": ["chirp"], "duration": 0.5}).clips(spec)
    assert c.sample_rate == 22050 and c.audio.shape == (11025,)


# --------------------------------------------------------------------------- mels


def test_mels_folder_with_and_without_audio(tmp_path):
    mdir, adir = tmp_path / "mels", tmp_path / "wavs"
    mdir.mkdir()
    y = tone(0.5, 16000)
    write(adir / "sub" / "b.wav", 0.5, 16000)
    sf.write(str(adir / "a.wav"), y, 16000)
    np.save(mdir / "a.npy", SPEC.mel(y))
    (mdir / "sub").mkdir()
    np.save(mdir / "sub" / "b.npy", SPEC.mel(y)[None])  # batch axis of 1 is dropped
    np.save(mdir / "c.npy", SPEC.mel(y).T)  # transposed: an error clip, not a crash
    out = {c.id: c for c in clips("mels", path=str(mdir), audio_dir=str(adir))}
    assert set(out) == {"a", "sub/b", "c"}
    assert out["a"].mel.shape == (80, SPEC.n_frames(8000)) and out["a"].audio is not None
    assert out["sub/b"].audio is not None and out["sub/b"].mel.ndim == 2
    assert out["c"].error and "transposed" in out["c"].error
    no_audio = {c.id: c for c in clips("mels", path=str(mdir))}
    assert no_audio["a"].audio is None and no_audio["a"].mel is not None
    fixed = clips("mels", path=str(mdir / "c.npy"), transpose=True)
    assert fixed[0].error is None and fixed[0].mel.shape[0] == 80


def test_mels_never_unpickles(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="unpickling"):
        load_mel_file(tmp_path / "obj.npy")
    (c,) = clips("mels", path=str(tmp_path))
    assert c.error and "unpickling" in c.error


def test_mels_mismatched_audio_length_is_reported(tmp_path):
    np.save(tmp_path / "a.npy", SPEC.mel(tone(0.5, 16000)))
    write(tmp_path / "wav" / "a.wav", 2.0, 16000)
    (c,) = clips("mels", path=str(tmp_path / "a.npy"), audio_dir=str(tmp_path / "wav"))
    assert c.error and "frames" in c.error


def test_mels_pt_needs_torch_or_loads(tmp_path):
    try:
        import torch
    except ImportError:
        (tmp_path / "a.pt").write_bytes(b"not really")
        with pytest.raises(InputError, match="torch"):
            load_mel_file(tmp_path / "a.pt")
        return
    torch.save(torch.ones(80, 10), tmp_path / "a.pt")
    assert load_mel_file(tmp_path / "a.pt").shape == (80, 10)


def test_mels_dataset_runs_reference_free(tmp_path):
    from melbench import runner

    np.save(tmp_path / "a.npy", SPEC.mel(tone(0.5, 16000)))
    cfg = {"spec": "speech16k", "dataset": {"name": "mels", "path": str(tmp_path)},
           "inverter": "pinv", "phase": {"name": "fgla", "n_iter": 5},
           "metrics": ["sc", "mel_sc"], "seed": 0}
    df = runner.run(cfg, tmp_path / "run", echo=False)
    row = df.iloc[0]
    assert row["status"] == "ok" and np.isfinite(row["sc_db"]) and np.isnan(row["sc_true_db"])


# --------------------------------------------------------------------------- through the CLI


def test_cli_run_ljspeech_fixture(tmp_path, monkeypatch):
    from melbench import cli
    from melbench.results import read_rows

    root = make_ljspeech(tmp_path / "LJSpeech-1.1", n=3)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "dataset=ljspeech", f"dataset.root={root}", "phase.n_iter=5",
                     "hydra.run.dir=run"])
    assert code == 0
    df = read_rows(tmp_path / "run" / "rows.csv")
    assert list(df["clip"]) == ["LJ001-0001", "LJ001-0002", "LJ001-0003"]
    assert (df["status"] == "ok").all() and df["dataset"].str.startswith("ljspeech").all()
    # a malformed tree fails the run with the layout in the message
    bad = tmp_path / "empty"
    bad.mkdir()
    code = cli.main(["run", "dataset=ljspeech", f"dataset.root={bad}", "hydra.run.dir=run2"])
    assert code == 1
    assert "metadata.csv" in read_rows(tmp_path / "run2" / "rows.csv")["error"].iloc[-1]


def test_fixture_datasets_pass_the_conformance_check(tmp_path):
    from melbench.testing import check_dataset

    y = tone(0.5, 16000)
    (tmp_path / "m").mkdir()
    np.save(tmp_path / "m" / "a.npy", SPEC.mel(y))
    write(tmp_path / "audio" / "a.wav", 0.3, 16000)
    (tmp_path / "list.csv").write_text("path\naudio/a.wav\n")
    made = {
        "ljspeech": {"root": str(make_ljspeech(tmp_path / "lj", n=2))},
        "vctk": {"root": str(make_vctk(tmp_path / "vctk"))},
        "librispeech": {"root": str(make_librispeech(tmp_path / "ls"))},
        "arctic": {"root": str(make_arctic(tmp_path / "arctic"))},
        "manifest": {"path": str(tmp_path / "list.csv"), "max_duration": 0.2},
        "mels": {"path": str(tmp_path / "m")},
        "synthetic": {"duration": 0.2},
    }
    for name, params in made.items():
        check_dataset(registry.create("dataset", name, params))
