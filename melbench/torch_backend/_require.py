"""The one place that says what to do when torch is missing."""

from __future__ import annotations

#: Shown when torch cannot be imported (the torch plugins are then listed as unavailable).
MISSING = "torch is not installed; the torch backend needs it: pip install 'melbench[torch]'"


def require_torch() -> None:
    """Import torch or raise ImportError with the install hint."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{MISSING} ({exc})") from None
