"""Human-readable listing of registered plugins (``melbench list``)."""

from __future__ import annotations

import dataclasses

from . import registry


def param_defaults(cls) -> list[str]:
    """``name=default`` for each field of a plugin class's ``Params`` ("(required)" if none)."""
    out = []
    for f in dataclasses.fields(cls.Params):
        if f.default is not dataclasses.MISSING:
            d = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            d = repr(f.default_factory())  # type: ignore[misc]
        else:
            d = "(required)"
        out.append(f"{f.name}={d}")
    return out


def _params(cls) -> str:
    return ", ".join(param_defaults(cls)) or "(no parameters)"


def format_plugins(kind: str | None = None) -> str:
    """Text listing of every plugin of ``kind`` (all kinds if None)."""
    lines = []
    for k, plugins in registry.discover().items():
        if kind and k != kind:
            continue
        lines.append(f"{k}s ({registry.GROUPS[k]}):")
        for name, info in plugins.items():
            src = f"  [{info.distribution} {info.version}]" if info.distribution else ""
            if info.available:
                assert info.cls is not None
                doc = (info.cls.__doc__ or "").strip().splitlines()
                lines.append(f"  {name:<14} {doc[0] if doc else ''}{src}")
                lines.append(f"  {'':<14} params: {_params(info.cls)}")
            else:
                lines.append(f"  {name:<14} UNAVAILABLE: {info.error}{src}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
