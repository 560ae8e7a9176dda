"""melbench: turn mel spectrograms back into audio, and benchmark the methods."""


# Python API (melbench.invert, melbench.mel), the spec contract (melbench.FeatureSpec,
# melbench.get_spec) and the submodules melbench.api / melbench.spec, imported on first
# use so that `import melbench` stays light.
_LAZY = {
    "invert": "melbench.api", "mel": "melbench.api",
    "FeatureSpec": "melbench.spec", "get_spec": "melbench.spec", "PRESETS": "melbench.spec",
}
_LAZY["invert_batch"] = "melbench.batch"  # issue 18: lists of mels, worker processes
_SUBMODULES = ("api", "spec")

__all__ = ["invert", "invert_batch", "mel", "FeatureSpec", "get_spec", "PRESETS", "api", "spec"]


def __getattr__(name: str):
    """Import the Python API lazily (``melbench.invert``, ``melbench.FeatureSpec``, ``melbench.api``)."""
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"melbench.{name}")
    raise AttributeError(f"module 'melbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
