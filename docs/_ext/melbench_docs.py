"""Sphinx extension: pages generated from melbench itself at build time.

When the configuration is read it writes, under ``docs/_generated/``:

* ``presets.md``: the table of :data:`melbench.spec.PRESETS` (every field that
  decides the features), so it cannot go stale;
* ``plugins.md``: every registered plugin by kind (name, summary line, parameters,
  references, package) from :func:`melbench.registry.discover`;
* ``extra/index.html``: a redirect from the site's root to ``docs/index.html``.

The committed ``results/*.md`` and ``results/papers/*/README.md`` need no generation:
the source directory is the repository (``conf.py`` restricts it to ``docs/`` and
``results/``), so they are pages as committed, not copies, and the links between them
and their figures resolve as on the repository's web view.

Files are rewritten only when their text changes, so incremental builds stay
incremental. The functions are plain and importable (tests/test_docs.py uses them).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
OUT = DOCS / "_generated"
REDIRECT = ('<!DOCTYPE html>\n<meta charset="utf-8">\n<title>melbench</title>\n'
            '<meta http-equiv="refresh" content="0; url=docs/index.html">\n'
            '<a href="docs/index.html">melbench documentation</a>\n')


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _g(x: float) -> str:
    return f"{x:g}"


def preset_table() -> str:
    """Markdown table of every preset in :data:`melbench.spec.PRESETS`."""
    from melbench.spec import PRESETS

    head = ("| preset | rate | n_fft / hop / win | window | bands | fmin – fmax | scale, norm "
            "| framing (padding) | mel of | compression |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for name, s in PRESETS.items():
        mel_of = s.domain + (f", eps {_g(s.mag_eps)}" if s.mag_eps else "")
        comp = s.compression
        if comp != "none":
            comp += f", floor {_g(s.floor)}"
            if comp.startswith("db"):
                comp = "dB" + comp[2:] + f", ref {_g(s.ref)}"
        pad = "zeros" if s.pad_mode == "constant" else s.pad_mode
        framing = s.framing if s.framing == "none" else f"{s.framing} ({pad})"
        lines.append(
            f"| `{name}` | {s.sample_rate} | {s.n_fft} / {s.hop_length} / {s.win_length} "
            f"| {s.window} | {s.n_mels} | {_g(s.fmin)} – {_g(s.f_max)} Hz "
            f"| {'HTK' if s.htk else 'Slaney'}, {s.mel_norm} | {framing} | {mel_of} | {comp} |")
    return "\n".join(lines) + "\n"


_SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}\s*$", re.M)


def references(doc: str) -> list[str]:
    """The entries of a numpydoc ``References`` section (``.. [1] ...``), one string each."""
    doc = inspect.cleandoc(doc or "")
    heads = list(_SECTION.finditer(doc))
    for i, m in enumerate(heads):
        if m.group("title").strip() != "References":
            continue
        end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
        body = doc[m.end():end].strip()
        entries = re.split(r"\n(?=\.\. \[)", body)
        out = []
        for e in entries:
            e = re.sub(r"^\.\. \[[^\]]+\]\s*", "", e.strip())
            e = " ".join(e.split())
            if e:
                out.append(e)
        return out
    return []


def plugin_references(cls: type) -> list[str]:
    """References of a plugin class.

    Those of its class docstring, else those of the functions of its module that its
    source calls, else those of its module docstring.
    """
    refs = references(cls.__doc__ or "")
    if refs:
        return refs
    mod = sys.modules.get(cls.__module__)
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        src = ""
    found: list[str] = []
    for fname, fn in inspect.getmembers(mod, inspect.isfunction) if mod else []:
        if fn.__module__ == cls.__module__ and re.search(rf"\b{re.escape(fname)}\(", src):
            found += [r for r in references(fn.__doc__ or "") if r not in found]
    return found or references(getattr(mod, "__doc__", "") or "")


def _params(cls: type) -> str:
    from melbench.listing import param_defaults

    return ", ".join(f"`{p}`" for p in param_defaults(cls)) or "none"


def plugin_page() -> str:
    """Markdown page of every registered plugin, by kind, from the registry."""
    from melbench import registry

    lines = [
        "# Plugins and their papers",
        "",
        "Generated at build time from the plugin registry (`melbench list` shows the same "
        "plugins with their parameters). Summary = first line of the class docstring; "
        "papers = the numpydoc *References* section of the plugin class, else of the "
        "functions it calls in its module, else of its module.",
        "",
    ]
    for kind, plugins in registry.discover().items():
        lines += [f"## {kind} (entry-point group `{registry.GROUPS[kind]}`)", "",
                  "| name | summary | parameters | package |", "|---|---|---|---|"]
        papers = []
        for name, info in plugins.items():
            pkg = f"{info.distribution} {info.version}".strip() or "(registered in-process)"
            if not info.available or info.cls is None:
                lines.append(f"| `{name}` | unavailable: {_cell(info.error)} | | {pkg} |")
                continue
            doc = inspect.getdoc(info.cls) or ""
            summary = doc.splitlines()[0] if doc else ""
            lines.append(f"| `{name}` | {_cell(summary)} | {_params(info.cls)} | {pkg} |")
            refs = plugin_references(info.cls)
            if refs:
                papers.append(f"- `{name}`: " + " ".join(f"[{i}] {r}" for i, r in enumerate(refs, 1)))
        lines.append("")
        if papers:
            lines += ["**Papers** (the others cite none):", "",
                      *papers, ""]
    return "\n".join(lines)


def result_sources() -> dict[str, list[Path]]:
    """The committed result files the docs show: benchmarks and paper reproductions."""
    res = ROOT / "results"
    return {
        "benchmarks": sorted(res.glob("*.md")),
        "papers": sorted(res.glob("papers/*/README.md")),
    }


def generate(app=None) -> list[Path]:
    """Write every generated page; return their paths."""
    written = []
    pages = {OUT / "presets.md": preset_table(), OUT / "plugins.md": plugin_page(),
             OUT / "extra" / "index.html": REDIRECT}
    for path, text in pages.items():
        _write(path, text)
        written.append(path)
    return written


def setup(app):
    """Register the generator with Sphinx."""
    app.connect("config-inited", lambda app, config: generate(app))
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
