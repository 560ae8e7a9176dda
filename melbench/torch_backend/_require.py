"""The one place that says what to do when torch is missing."""

from __future__ import annotations

#: Shown when torch cannot be imported (the torch plugins are then listed as unavailable).
MISSING = ("torch is not installed; the torch backend needs it: "
           "pip install -e '.[torch]' in melbench's clone")


def torch_installed() -> bool:
    """True if torch can be found, without importing it (importing torch takes seconds)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def require_torch(import_it: bool = True) -> None:
    """Raise ImportError with the install hint if torch is missing (import it if asked)."""
    if not torch_installed():
        raise ImportError(MISSING)
    if import_it:
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"{MISSING} ({exc})") from None
