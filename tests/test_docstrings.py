"""numpydoc docstrings of every algorithm in melbench.phase and melbench.inverters.

Checked with numpydoc's own parser (``numpydoc.docscrape``): every public algorithm
function (one whose first argument is ``magnitude`` or ``mel``) and every plugin class
has a ``References`` section with at least one paper; every array parameter and return
value states its shape (``np.ndarray [shape=(..., n_freq, frames)]``); every argument
of a function is documented.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil

import pytest
from numpydoc.docscrape import NumpyDocString

import melbench.inverters
import melbench.phase
from melbench.plugin import Plugin

#: Modules of plumbing for the algorithms, not algorithms (private ones are skipped too).
HELPER_MODULES = {"melbench.phase.helpers", "melbench.phase.projection_kernels"}

#: Owned by other branches (issue 17 item 5 is theirs to apply there): expected to fail
#: here, and to pass once merged. strict: an entry that passes must be removed.
PENDING: dict[str, str] = {}


#: The torch backend's algorithm modules (checked when torch is installed).
TORCH_MODULES = ("melbench.torch_backend.phase", "melbench.torch_backend.inverters",
                 "melbench.torch_backend.plugins")


def _modules():
    for pkg in (melbench.phase, melbench.inverters):
        for info in pkgutil.iter_modules(pkg.__path__):
            name = f"{pkg.__name__}.{info.name}"
            if info.name.startswith("_") or name in HELPER_MODULES:
                continue
            yield importlib.import_module(name)
    if importlib.util.find_spec("torch") is not None:
        for name in TORCH_MODULES:
            yield importlib.import_module(name)


def _algorithms():
    out = []
    for mod in _modules():
        for name, obj in sorted(vars(mod).items()):
            if name.startswith("_"):
                continue
            if inspect.isfunction(obj) and inspect.unwrap(obj).__module__ == mod.__name__:
                params = list(inspect.signature(obj).parameters)
                if params and params[0] in ("magnitude", "mel"):
                    out.append((f"{mod.__name__}.{name}", obj))
            elif (inspect.isclass(obj) and issubclass(obj, Plugin) and obj.__module__ == mod.__name__
                  and obj.name):
                out.append((f"{mod.__name__}.{name}", obj))
    return out


ALGORITHMS = _algorithms()


def _is_array(type_text: str) -> bool:
    return "ndarray" in type_text or "Tensor" in type_text or "array" in type_text.split()


def problems(obj) -> list[str]:
    """What the docstring of ``obj`` lacks (empty when it complies)."""
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    out = []
    if not "".join(doc["References"]).strip():
        out.append("no References section")
    if inspect.isclass(obj):
        return out
    for p in doc["Parameters"]:
        if _is_array(p.type) and "[shape=" not in p.type:
            out.append(f"parameter {p.name!r} has no shape ({p.type!r})")
    for r in doc["Returns"]:
        text = f"{r.name} {r.type}"
        if _is_array(text) and "[shape=" not in text:
            out.append(f"return value {text.strip()!r} has no shape")
    documented = {n.strip().lstrip("*") for p in doc["Parameters"] for n in p.name.split(",")}
    missing = [n for n in inspect.signature(obj).parameters
               if n not in documented and not n.startswith("_")]
    if missing:
        out.append(f"undocumented parameters {missing}")
    return out


def test_the_collection_finds_the_algorithms():
    names = {n for n, _ in ALGORITHMS}
    for want in ("melbench.phase.projections.fgla", "melbench.phase.projections.FGLA",
                 "melbench.phase.pghi.pghi", "melbench.phase.spsi.spsi", "melbench.phase.lws.lws",
                 "melbench.phase.rtisi.rtisi_la", "melbench.phase.chain.chain",
                 "melbench.inverters.nnls.mel_nnls_inverse", "melbench.inverters.pinv.Pinv",
                 "melbench.inverters.joint_fgla.joint_fgla_inverse"):
        assert want in names
    assert set(PENDING) <= names


def test_the_checker_catches_missing_references_and_shapes():
    def bad(magnitude, spec, *, n_iter=3):
        """Do something.

        Parameters
        ----------
        magnitude : np.ndarray, shape (n_freq, frames)
            Input.
        spec : FeatureSpec
            Spec.

        Returns
        -------
        np.ndarray
            Output.
        """

    found = problems(bad)
    assert "no References section" in found
    assert any("parameter 'magnitude' has no shape" in p for p in found)
    assert any("return value" in p for p in found)
    assert any("undocumented parameters ['n_iter']" in p for p in found)


@pytest.mark.parametrize(
    "name, obj",
    [pytest.param(n, o, id=n, marks=pytest.mark.xfail(
        strict=True, reason=f"docstring owned by {PENDING[n]}")) if n in PENDING
     else pytest.param(n, o, id=n) for n, o in ALGORITHMS],
)
def test_algorithm_docstring_has_references_and_shapes(name, obj):
    found = problems(obj)
    assert not found, f"{name}: {'; '.join(found)}"
