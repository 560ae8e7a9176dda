"""No import cycle among melbench's modules (imports inside functions included)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycle_among_melbench_modules():
    tool = _tool()
    edges = tool.graph()
    assert "melbench.hydra_configs" in edges["melbench.cli"]
    assert "melbench.registry" in edges["melbench.degrade"]
    assert tool.cycles(edges) == []


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    tool = _tool()
    pkg = tmp_path / "melbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub.c import g\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("import numpy\nfrom ..a import x\n")
    (pkg / "d.py").write_text("from melbench.a import y\n")
    edges = tool.graph(tmp_path)
    assert edges["melbench.b"] == {"melbench.sub.c"} and edges["melbench.d"] == {"melbench.a"}
    assert tool.cycles(edges) == [["melbench.a", "melbench.b", "melbench.sub.c"]]
