"""The documentation: its plugin-guide example is real and conformant, its generated pages
follow the code, and the benchmark commands leave the README alone."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from melbench import registry
from melbench.errors import ParameterError
from melbench.spec import PRESETS, get_spec
from melbench.testing import check_framings, check_phase, check_plugin, conformance_signal

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
