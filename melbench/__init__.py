"""melbench: turn mel spectrograms back into audio, and benchmark the methods."""


# Python API (melbench.invert, melbench.mel), imported on first use so that
# `import melbench` stays light.
_LAZY = {"invert": "melbench.api", "mel": "melbench.api"}
_LAZY["invert_batch"] = "melbench.batch"  # issue 18: lists of mels, worker processes


def __getattr__(name: str):
    """Import the Python API lazily (``melbench.invert``, ``melbench.mel``)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'melbench' has no attribute {name!r}")
