"""The packaged evaluation datasets (issue 14): layouts, decoding, licences, missing packages.

Layout, licence and missing-package tests build tiny fixtures in the real layouts in
``tmp_path`` and need none of the packages. The G.722 tests need the PyPI ``G722``
decoder (a test dependency); the cross-check against ffmpeg runs when ffmpeg is
installed. The last tests read a two-clip subset of each real dataset when its
package is installed (``make eval-data``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from melbench import registry
from melbench.datasets import asterisk as ast
from melbench.datasets import ltfat_signals as lt
from melbench.datasets import sonic_pi as sp
from melbench.datasets.base import Clip
from melbench.datasets.eval_suite import EvalSuite
from melbench.datasets.packaged import Entry, PackagedParams, dep5_licence, read_dep5, select
from melbench.errors import InputError, ParameterError
from melbench.spec import get_spec

SR = 16000
SPEC = get_spec("speech16k")

ASTERISK_COPYRIGHT = """\
Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: asterisk-core-sounds

Files: *
Copyright: 2003-2010, Allison Smith
Comment: The CREDITS file:
 Recorded by:
 Allison Smith
License: CC-BY-SA-3.0

Files: fr-*
Copyright: 2006-2008, June Wallack
License: CC-BY-SA-3.0

Files: ru-*
Copyright: 2010, Maxim
License: CC-BY-3.0

Files: debian/*
Copyright: 2010, Tzafrir Cohen
License: GPL-2+
 This package is free software.

License: CC-BY-SA-3.0
 THE WORK IS PROVIDED UNDER THE TERMS OF THIS LICENSE.
"""

SONIC_COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sonic-pi

Files: *
Copyright: 2016 Samuel Aaron <samaaron@gmail.com>
License: MIT

Files: etc/samples/bd_808.flac
Copyright: 2013 EKVelika
Source: http://freesound.org/people/EKVelika/sounds/208447/
License: CC0

Files: etc/samples/misc_*
Copyright: 2012 Someone
License: CC-BY-SA-4.0

Files: etc/samples/misc_crow.flac
Copyright: 2011 Crow Person
Source: http://freesound.org/crow
License: CC0
"""


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def g722_bytes(y: np.ndarray) -> bytes:
    """Encode 16 kHz audio to raw 64 kbit/s G.722 with the PyPI codec."""
    g722 = pytest.importorskip("G722")
    pcm = np.round(np.clip(y, -1, 1) * 32767).astype(np.int16)
    return bytes(g722.G722(SR, 64000).encode(pcm))


def make_asterisk_tree(root: Path, voices=("en_US_f_Allison", "fr_CA_f_June")) -> Path:
    """A miniature /usr/share/asterisk/sounds: two voices, digits/, silence/, a tone prompt."""
    data = g722_bytes(tone(440.0, 1.0))
    for v in voices:
        d = root / v
        (d / "digits").mkdir(parents=True)
        (d / "silence").mkdir()
        (d / "hello.g722").write_bytes(data)
        (d / "beep.g722").write_bytes(data[: len(data) // 4])
        (d / "digits" / "1.g722").write_bytes(data[: len(data) // 2])
        (d / "silence" / "1.g722").write_bytes(bytes(len(data)))
    # the alternatives symlinks Debian adds (en -> en_US_f_Allison) must not be read twice
    (root / "en").symlink_to(root / voices[0])
    return root


# --------------------------------------------------------------------------- registry


def test_datasets_are_registered_entry_points():
    avail = registry.available("dataset")
    for name in ("asterisk", "sonic_pi", "ltfat_signals", "eval_suite"):
        assert name in avail, name


# --------------------------------------------------------------------------- DEP-5


def test_dep5_last_matching_paragraph_wins(tmp_path):
    f = tmp_path / "copyright"
    f.write_text(SONIC_COPYRIGHT)
    paras = read_dep5(f)
    assert [p.licence for p in paras] == ["MIT", "CC0", "CC-BY-SA-4.0", "CC0"]
    assert dep5_licence(paras, "etc/samples/bd_808.flac").source.endswith("/208447/")
    assert dep5_licence(paras, "etc/samples/misc_burp.flac").licence == "CC-BY-SA-4.0"
    assert dep5_licence(paras, "etc/samples/misc_crow.flac").copyright == "2011 Crow Person"
    assert dep5_licence(paras, "etc/samples/glitch_perc1.flac").licence == "MIT"


def test_select_is_seeded_sorted_and_filters_durations():
    entries = [Entry(f"c{i:02d}", Path(f"/x/{i}"), float(i) / 4, {}) for i in range(40)]
    p = PackagedParams(subset=5, seed=3, min_duration=1.0)
    a, b = select(entries, p), select(entries, p)
    assert [e.id for e in a] == [e.id for e in b] == sorted(e.id for e in a)
    assert len(a) == 5 and all(e.duration >= 1.0 for e in a)
    assert [e.id for e in select(entries, PackagedParams(subset=5, seed=4, min_duration=1.0))] != \
        [e.id for e in a]
    skip = select(entries, PackagedParams(max_duration=2.0, on_long="skip"))
    assert max(e.duration for e in skip) == 2.0 and len(skip) == 9


# --------------------------------------------------------------------------- G.722


def test_g722_decoder_recovers_the_tone(tmp_path):
    f = tmp_path / "t.g722"
    f.write_bytes(g722_bytes(tone(1000.0, 0.5)))
    y = ast.decode_g722(f)
    assert y.dtype == np.float32 and y.shape == (8000,)  # 2 samples per byte, 16 kHz
    spec = np.abs(np.fft.rfft(y[1000:] * np.hanning(7000)))
    assert np.fft.rfftfreq(7000, 1 / SR)[spec.argmax()] == pytest.approx(1000.0, abs=3)
    assert np.sqrt(np.mean(y[1000:] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_g722_package_matches_ffmpeg_bit_for_bit(tmp_path):
    pytest.importorskip("G722")
    wav = tmp_path / "t.wav"
    sf.write(wav, tone(700.0, 0.4) + tone(2500.0, 0.4, amp=0.1), SR, subtype="PCM_16")
    g = tmp_path / "t.g722"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-ar", "16000",
                    "-acodec", "g722", "-f", "g722", str(g)], check=True)
    a = ast.decode_g722(g, "g722")
    b = ast.decode_g722(g, "ffmpeg")
    assert a.shape == b.shape and a.size > 6000
    np.testing.assert_array_equal(a, b)


def test_g722_errors(tmp_path):
    with pytest.raises(InputError, match="G.722 file not found"):
        ast.decode_g722(tmp_path / "nope.g722")
    (tmp_path / "x.g722").write_bytes(b"\0" * 10)
    with pytest.raises(ParameterError, match="choose 'g722' or 'ffmpeg'"):
        ast.decode_g722(tmp_path / "x.g722", "sox")


# --------------------------------------------------------------------------- asterisk


def test_asterisk_layout_kinds_and_licences(tmp_path):
    root = make_asterisk_tree(tmp_path / "sounds")
    docs = tmp_path / "doc"
    for lang in ("en", "fr"):
        (docs / ast.package_name(lang)).mkdir(parents=True)
        (docs / ast.package_name(lang) / "copyright").write_text(ASTERISK_COPYRIGHT)
    ds = ast.Asterisk(root=str(root), languages=["en", "fr"], copyright_dir=str(docs))
    clips = list(ds.clips(SPEC))
    ids = [c.id for c in clips]
    assert ids == ["en_US_f_Allison/beep", "en_US_f_Allison/digits/1", "en_US_f_Allison/hello",
                   "fr_CA_f_June/beep", "fr_CA_f_June/digits/1", "fr_CA_f_June/hello"]
    by = {c.id: c for c in clips}
    assert by["en_US_f_Allison/beep"].meta["kind"] == "other"
    assert by["en_US_f_Allison/hello"].meta["kind"] == "speech"
    en, fr = by["en_US_f_Allison/hello"].meta, by["fr_CA_f_June/hello"].meta
    assert en["licence"] == "CC-BY-SA-3.0 (c) 2003-2010, Allison Smith"
    assert fr["licence"] == "CC-BY-SA-3.0 (c) 2006-2008, June Wallack"
    assert en["licence_file"].endswith("asterisk-core-sounds-en-g722/copyright")
    assert (en["speaker"], en["language"], en["sex"], en["source"]) == \
        ("Allison", "en", "f", "asterisk/en_US_f_Allison")
    assert by["en_US_f_Allison/hello"].audio.shape == (SR,)
    assert by["en_US_f_Allison/hello"].sample_rate == SR


def test_asterisk_licence_table_without_copyright_file(tmp_path):
    root = make_asterisk_tree(tmp_path / "sounds", voices=("ru_RU_f_IvrvoiceRU",))
    ds = ast.Asterisk(root=str(root), languages=["ru"], copyright_dir=str(tmp_path / "none"))
    c = next(iter(ds.clips(SPEC)))
    assert c.meta["licence"].startswith("CC-BY-3.0")
    assert "copyright file not found" in c.meta["licence_file"]


def test_asterisk_subset_crop_and_resample(tmp_path):
    root = make_asterisk_tree(tmp_path / "sounds")
    ds = ast.Asterisk(root=str(root), languages=["en"], subset=2, seed=0, min_duration=0.4,
                      max_duration=0.45)
    clips = list(ds.clips(get_spec("speech16k", sample_rate=8000, fmax=4000.0)))
    assert [c.id for c in clips] == ["en_US_f_Allison/digits/1", "en_US_f_Allison/hello"]
    assert all(c.audio.shape == (3600,) and c.sample_rate == 8000 for c in clips)
    assert clips[1].meta["cropped_from"] == pytest.approx(1.0)


def test_asterisk_missing_package_names_the_install_command(tmp_path):
    root = make_asterisk_tree(tmp_path / "sounds", voices=("en_US_f_Allison",))
    ds = ast.Asterisk(root=str(root), languages=["en", "fr", "it"])
    with pytest.raises(InputError, match=r"apt-get install -y asterisk-core-sounds-fr-g722 "
                                         r"asterisk-core-sounds-it-g722\n") as err:
        list(ds.clips(SPEC))
    assert "asterisk-core-sounds-en-g722" not in str(err.value).split("Install it with")[1]
    with pytest.raises(ParameterError, match="two-letter codes"):
        ast.Asterisk(languages=["english"])


# --------------------------------------------------------------------------- sonic pi


def make_sonic_tree(root: Path) -> Path:
    root.mkdir(parents=True)
    stereo = np.stack([tone(220.0, 0.5, 44100), tone(220.0, 0.5, 44100, amp=0.1)], axis=1)
    sf.write(root / "bd_808.flac", stereo, 44100)
    sf.write(root / "misc_crow.flac", tone(900.0, 0.3, 44100), 44100)
    sf.write(root / "glitch_perc1.flac", tone(300.0, 0.2, 44100), 44100)
    (root / "README.md").write_text("samples")
    return root


def test_sonic_pi_licences_kinds_and_downmix(tmp_path):
    root = make_sonic_tree(tmp_path / "samples")
    cfile = tmp_path / "copyright"
    cfile.write_text(SONIC_COPYRIGHT)
    ds = sp.SonicPi(root=str(root), copyright_file=str(cfile))
    clips = {c.id: c for c in ds.clips(SPEC)}
    assert sorted(clips) == ["sonic_pi/bd_808", "sonic_pi/glitch_perc1", "sonic_pi/misc_crow"]
    bd, crow = clips["sonic_pi/bd_808"], clips["sonic_pi/misc_crow"]
    glitch = clips["sonic_pi/glitch_perc1"]
    assert (bd.meta["kind"], crow.meta["kind"], glitch.meta["kind"]) == ("music", "other", "music")
    assert bd.meta["licence"] == "CC0 (c) 2013 EKVelika"
    assert bd.meta["origin"] == "http://freesound.org/people/EKVelika/sounds/208447/"
    assert crow.meta["licence"] == "CC0 (c) 2011 Crow Person"
    assert glitch.meta["licence"].startswith("MIT")
    # stereo (0.3 and 0.1 amplitude channels) downmixed to their mean, resampled to 16 kHz
    assert bd.sample_rate == SR and bd.audio.shape == (8000,)
    assert bd.meta["source_sample_rate"] == 44100
    assert np.sqrt(np.mean(bd.audio[500:-500] ** 2)) == pytest.approx(0.2 / np.sqrt(2), rel=0.02)
    only_other = sp.SonicPi(root=str(root), copyright_file=str(cfile), kind="other")
    assert [c.id for c in only_other.clips(SPEC)] == ["sonic_pi/misc_crow"]


def test_sonic_pi_without_copyright_file_says_unknown(tmp_path):
    root = make_sonic_tree(tmp_path / "samples")
    ds = sp.SonicPi(root=str(root), copyright_file=str(tmp_path / "missing"))
    assert {c.meta["licence"] for c in ds.clips(SPEC)} == {"unknown (copyright file not found)"}


def test_sonic_pi_missing_package(tmp_path):
    with pytest.raises(InputError, match=r"apt-get install -y sonic-pi-samples"):
        list(sp.SonicPi(root=str(tmp_path)).clips(SPEC))


# --------------------------------------------------------------------------- ltfatpy signals


def make_ltfat_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    sf.write(root / "gspi.wav", tone(1568.0, 1.0, 44100), 44100, subtype="PCM_16")
    sf.write(root / "linus.wav", tone(150.0, 1.0, 8000), 8000, subtype="PCM_16")
    sf.write(root / "greasy.wav", tone(200.0, 0.37, 16000), 16000, subtype="PCM_16")
    return root


def test_ltfat_signals_from_a_root(tmp_path):
    root = make_ltfat_folder(tmp_path / "signals")
    clips = {c.id: c for c in lt.LtfatSignals(root=str(root)).clips(SPEC)}
    assert sorted(clips) == ["ltfat/greasy", "ltfat/gspi", "ltfat/linus"]
    assert clips["ltfat/gspi"].meta["kind"] == "music"
    assert clips["ltfat/linus"].meta["kind"] == "speech"
    assert clips["ltfat/gspi"].meta["licence"].startswith("GPL-3.0")
    assert clips["ltfat/gspi"].meta["source_sample_rate"] == 44100
    assert clips["ltfat/linus"].audio.shape == (SR,)


def test_ltfat_signals_missing_names_make_eval_data(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(lt, "installed_package_dir", lambda: None)
    with pytest.raises(InputError, match=r"make eval-data") as err:
        lt.LtfatSignals().entries()
    assert str(tmp_path / "xdg" / "melbench" / "ltfatpy") in str(err.value)
    with pytest.raises(ParameterError, match="choose from"):
        lt.LtfatSignals(names=["lena"])


def test_ltfat_install_extracts_the_sdist_signals(tmp_path, monkeypatch):
    """install() keeps the three wavs and the licence of the sdist pip downloads (pip faked)."""
    wavs = make_ltfat_folder(tmp_path / "w")

    def fake_pip(cmd, **kw):
        dest = Path(cmd[cmd.index("-d") + 1])
        with tarfile.open(dest / "ltfatpy-1.1.2.tar.gz", "w:gz") as tar:
            for name in ("gspi", "linus", "greasy"):
                tar.add(wavs / f"{name}.wav", f"ltfatpy-1.1.2/ltfatpy/signals/{name}.wav")
            info = tarfile.TarInfo("ltfatpy-1.1.2/LICENSE.rst")
            text = b"GNU GENERAL PUBLIC LICENSE Version 3"
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
            tar.add(wavs / "gspi.wav", "ltfatpy-1.1.2/ltfatpy/tests/other.wav")
        assert "--no-binary" in cmd and "ltfatpy==1.1.2" in cmd
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(lt.subprocess, "run", fake_pip)
    dest = lt.install(tmp_path / "data")
    assert sorted(p.name for p in dest.iterdir()) == \
        ["LICENSE.rst", "SOURCE.txt", "greasy.wav", "gspi.wav", "linus.wav"]
    assert (dest / "gspi.wav").read_bytes() == (wavs / "gspi.wav").read_bytes()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nothing"))
    assert lt.LtfatSignals(root=str(dest)).folder() == dest


# --------------------------------------------------------------------------- suite and rows


def test_eval_suite_lists_every_missing_source(tmp_path):
    ds = EvalSuite(asterisk_root=str(tmp_path), sonic_pi_root=str(tmp_path),
                   ltfat_root=str(tmp_path), asterisk_languages=["en", "it"])
    with pytest.raises(InputError, match="make eval-data") as err:
        list(ds.clips(SPEC))
    msg = str(err.value)
    for cmd in ("apt-get install -y asterisk-core-sounds-en-g722",
                "apt-get install -y asterisk-core-sounds-it-g722",
                "apt-get install -y sonic-pi-samples", "python -m melbench.datasets.ltfat_signals"):
        assert cmd in msg


def test_eval_suite_composes_sources_from_fixtures(tmp_path):
    ds = EvalSuite(asterisk_root=str(make_asterisk_tree(tmp_path / "a")),
                   sonic_pi_root=str(make_sonic_tree(tmp_path / "s")),
                   ltfat_root=str(make_ltfat_folder(tmp_path / "l")),
                   asterisk_languages=["en", "fr"], asterisk_per_language=2, sonic_pi=2,
                   min_duration=0.25, max_duration=0.5)
    clips = list(ds.clips(SPEC))
    srcs = pd.Series([c.meta["source"] for c in clips]).value_counts().to_dict()
    assert srcs == {"asterisk/en_US_f_Allison": 2, "asterisk/fr_CA_f_June": 2,
                    "sonic-pi-samples": 2, "ltfatpy": 3, "bundled": 6}
    assert all(c.duration <= 0.5 + 1e-9 for c in clips)
    assert len({c.id for c in clips}) == len(clips)
    assert all(c.id.startswith("bundled/") for c in clips if c.meta["source"] == "bundled")
    assert {c.meta["kind"] for c in clips} >= {"speech", "music"}


def test_rows_carry_source_and_licence():
    from melbench import pipeline
    from melbench.inverters.pinv import Pinv
    from melbench.phase.projections import FGLA

    clip = Clip("x", audio=tone(300.0, 0.5), sample_rate=SR,
                meta={"kind": "speech", "source": "asterisk/it_IT_m_Carlo", "licence": "CC-BY-3.0"})
    row = pipeline.run_clip(clip, SPEC, Pinv(), FGLA(n_iter=2), []).row
    assert (row["kind"], row["source"], row["licence"]) == \
        ("speech", "asterisk/it_IT_m_Carlo", "CC-BY-3.0")
    assert row["status"] == "ok"


# --------------------------------------------------------------------------- real packages


@pytest.mark.skipif(not (ast.DEFAULT_ROOT / "en_US_f_Allison").is_dir(),
                    reason="asterisk-core-sounds-en-g722 not installed (make eval-data)")
def test_real_asterisk_two_clips():
    pytest.importorskip("G722")
    clips = list(ast.Asterisk(languages=["en"], subset=2, seed=1).clips(SPEC))
    assert len(clips) == 2 and all(c.error is None for c in clips)
    for c in clips:
        assert c.meta["licence"].startswith("CC-BY-SA-3.0 (c) 2003-2010, Allison Smith")
        assert c.meta["licence_file"] == "/usr/share/doc/asterisk-core-sounds-en-g722/copyright"
        assert c.meta["package"].startswith("asterisk-core-sounds-en-g722 ")
        assert 0.05 < float(np.max(np.abs(c.audio))) <= 1.0
        assert c.audio.size == 2 * Path(c.meta["path"]).stat().st_size  # 16 kHz, 2 samples/byte


@pytest.mark.skipif(not sp.DEFAULT_ROOT.is_dir(), reason="sonic-pi-samples not installed")
def test_real_sonic_pi_two_clips():
    clips = list(sp.SonicPi(subset=2, seed=1).clips(SPEC))
    assert len(clips) == 2
    paras = read_dep5(f"/usr/share/doc/{sp.PACKAGE}/copyright")
    for c in clips:
        assert c.meta["source_sample_rate"] == 44100
        name = Path(c.meta["path"]).name
        para = dep5_licence(paras, f"etc/samples/{name}")
        assert c.meta["licence"].startswith(para.licence) and para.licence in ("CC0", "MIT")


def _ltfat_installed() -> bool:
    try:
        lt.LtfatSignals(names=["gspi", "linus"]).folder()
    except InputError:
        return False
    return True


@pytest.mark.skipif(not _ltfat_installed(), reason="ltfatpy signals not installed (make eval-data)")
def test_real_ltfat_two_clips():
    spec = get_spec("speech16k", sample_rate=44100)
    clips = {c.id: c for c in lt.LtfatSignals(names=["gspi", "linus"]).clips(spec)}
    # the glockenspiel: 262144 samples at 44.1 kHz (ltfatpy's gspi docstring)
    assert clips["ltfat/gspi"].audio.shape == (262144,)
    assert clips["ltfat/linus"].meta["source_sample_rate"] == 8000


# --------------------------------------------------------------------------- report: items 4, 5


def _rows(kinds_values):
    """Rows of one cell: (clip, kind, source, sc_true_db, pesq_wb) tuples."""
    recs = []
    for clip, kind, source, sc, pesq in kinds_values:
        recs.append({"dataset": "d", "spec": "s", "degrade": "none", "inverter": "pinv",
                     "phase": "fgla", "clip": clip, "kind": kind, "source": source, "seed": 0,
                     "status": "ok", "sc_true_db": sc, "pesq_wb": pesq})
    return pd.DataFrame(recs)


def test_sc_linear_aggregate_is_db_of_mean_ratio():
    from melbench.report import tables

    df = _rows([("a", "speech", "x", -10.0, 3.0), ("b", "speech", "x", -30.0, 4.0),
                ("c", "speech", "x", -20.0, 2.0)])
    stats = tables.with_sc_linear(tables.cell_stats(df), df)
    by = stats.set_index("metric")
    assert list(stats["metric"]) == ["sc_true_db", "sc_true_db@lin", "pesq_wb"]
    assert by.loc["sc_true_db", "mean"] == pytest.approx(-20.0)
    ratios = 10 ** (np.array([-10.0, -30.0, -20.0]) / 20)
    assert by.loc["sc_true_db@lin", "mean"] == pytest.approx(20 * np.log10(ratios.mean()))
    lo, hi = by.loc["sc_true_db@lin", ["ci_low", "ci_high"]]
    assert -30.0 <= lo <= by.loc["sc_true_db@lin", "mean"] <= hi <= -10.0
    md = tables.to_markdown(stats)
    assert "mean of the per-clip dB values" in md and "dB of the mean linear SC" in md


def test_per_kind_tables_leave_speech_metrics_out_of_music():
    from melbench.report import kinds

    df = _rows([("s1", "speech", "asterisk/en", -20.0, 3.0), ("s2", "speech", "asterisk/fr", -22.0, 4.0),
                ("m1", "music", "sonic-pi-samples", -10.0, 1.0),
                ("m2", "music", "sonic-pi-samples", -12.0, 1.5)])
    stats, excluded = kinds.grouped_stats(df, ["kind"])
    speech = stats[stats["kind"] == "speech"].set_index("metric")
    music = stats[stats["kind"] == "music"].set_index("metric")
    assert speech.loc["pesq_wb", "mean"] == pytest.approx(3.5)  # music's PESQ not averaged in
    assert "pesq_wb" not in music.index
    assert music.loc["sc_true_db", "mean"] == pytest.approx(-11.0)
    assert [m for m, _ in excluded[("music",)]] == ["pesq_wb"]
    md = kinds.grouped_markdown(stats, ["kind"], excluded, title="t")
    assert "## kind: music" in md and "- `pesq_wb`: PESQ models" in md
    by_src, _ = kinds.grouped_stats(df, ["kind", "source"])
    en = by_src[(by_src["source"] == "asterisk/en")].set_index("metric")
    assert en.loc["pesq_wb", "mean"] == pytest.approx(3.0) and en.loc["pesq_wb", "n"] == 1


def test_declared_kinds_override_the_name_rules():
    from melbench.report import kinds

    assert kinds.applies("pesq_wb", "music", {}) != ""
    assert kinds.applies("pesq_wb", "music", {"pesq_wb": ("speech", "music")}) == ""
    assert "declared for speech" in kinds.applies("my_mos", "music", {"my_mos": ("speech",)})
    assert kinds.applies("visqol_audio_moslqo", "speech", {}) != ""
    assert kinds.applies("sc_true_db@lin", "music", {}) == ""


def test_collect_writes_rows_clips_and_run_facts(tmp_path):
    import json

    from melbench.bench.eval_suite import collect

    sweep = tmp_path / "clean"
    df = _rows([("a", "speech", "asterisk/en", -20.0, 3.0), ("m", "music", "sonic-pi-samples", -9.0, 1.0)])
    df["dataset"] = "eval_suite[seed=0]"
    df["versions"] = "melbench 0.1.0; numpy 2"
    df["cell_key"] = "k"
    df["licence"] = ["CC-BY-SA-3.0", "CC0"]
    df["duration"] = [1.5, 4.0]
    for job in ("0", "1"):
        d = sweep / job
        (d / ".hydra").mkdir(parents=True)
        part = df.assign(phase="fgla" if job == "0" else "lws")
        part.to_csv(d / "rows.csv", index=False)
        (d / "run.json").write_text(json.dumps({"complete": True, "finished": 1.0e9 + 60 * int(job)}))
        (d / ".hydra" / "overrides.yaml").write_text(
            f"- inverter=pinv\n- +method=eval_{part['phase'][0]}\n- +experiment=eval\n")
    (sweep / "multirun.yaml").write_text("x: 1\n")
    os.utime(sweep / "multirun.yaml", (1.0e9 - 120, 1.0e9 - 120))  # sweep launched 2 min earlier
    collect(tmp_path / "out", [sweep])
    rows = pd.read_csv(tmp_path / "out" / "rows.csv.gz")
    assert len(rows) == 4 and "versions" not in rows and "cell_key" not in rows
    assert set(rows["dataset"]) == {"eval_suite"}
    clips = pd.read_csv(tmp_path / "out" / "clips.csv")
    assert list(clips["clip"]) == ["a", "m"] and list(clips["licence"]) == ["CC-BY-SA-3.0", "CC0"]
    run = (tmp_path / "out" / "RUN.md").read_text()
    assert f"melbench run -m +experiment=eval inverter=pinv hydra.sweep.dir={sweep}" in run
    assert "| clean | 2 |" in run and "| 3.0 | 4 | 4 | 0 | 0 |" in run  # 120 s + 60 s
    assert "from the first start to the last finish: 3.0 min" in run
    assert "2 clips (music: 1, speech: 1)" in run and "- melbench 0.1.0; numpy 2" in run
