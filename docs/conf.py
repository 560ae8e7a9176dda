"""Sphinx configuration of melbench's documentation (``make docs``; warnings are errors)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

from melbench._version import __version__  # noqa: E402

project = "melbench"
author = "melbench developers"
copyright = "melbench developers, BSD-3-Clause"  # noqa: A001
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "melbench_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The source directory is the repository root (`sphinx-build -c docs . docs/_build/html`),
# restricted to docs/ and results/: the committed results files are pages as they are.
root_doc = "docs/index"
include_patterns = ["docs/**", "results/**"]
exclude_patterns = ["docs/_build", ".venv", ".git", "outputs", "multirun", "plugins"]
html_extra_path = ["_generated/extra"]
templates_path: list[str] = []

# numpydoc (librosa's set-up): no autosummary tables of members inside class pages,
# every parameter type checked for cross-references only where the target exists.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types and shapes
autosummary_generate = False

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
}
# The build must work offline (CI has no internet): intersphinx inventories are only
# fetched when MELBENCH_DOCS_ONLINE=1.
import os  # noqa: E402

if os.environ.get("MELBENCH_DOCS_ONLINE") != "1":
    extensions.remove("sphinx.ext.intersphinx")

html_theme = "alabaster"
html_title = f"melbench {release}"
html_static_path: list[str] = []
html_theme_options = {"description": "Mel spectrograms back to audio, measured.",
                      "fixed_sidebar": True, "page_width": "1180px", "sidebar_width": "230px"}
