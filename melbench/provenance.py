"""What produced a result row: versions of melbench, its numerical dependencies and each plugin.

Two text columns are added to every row by the runner:

``versions``
    ``"melbench 0.1.0; numpy 1.26.4; scipy 1.11.4; pesq 0.0.4; pystoi 0.4.1"``
    (``absent`` for a package that is not installed).
``plugin_versions``
    ``"dataset bundled: melbench 0.1.0; inverter pinv: melbench 0.1.0; ..."``: the
    distribution (and its version) that registered each plugin of the cell, from
    the registry's entry points (``unregistered`` for plugins added with
    :func:`melbench.registry.register`).

They are text (never parsed as numbers), so result tables do not average them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import metadata

from . import registry
from .plugin import Plugin

#: Packages whose versions every row records (melbench first).
PACKAGES: tuple[str, ...] = ("melbench", "numpy", "scipy", "pesq", "pystoi")


@functools.cache
def package_version(name: str) -> str:
    """Installed version of distribution ``name`` (``"absent"`` if not installed)."""
    if name == "melbench":
        from ._version import __version__

        return __version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def versions(packages: Iterable[str] = PACKAGES) -> str:
    """``"name version; ..."`` for ``packages``."""
    return "; ".join(f"{p} {package_version(p)}" for p in packages)


def plugin_version(plugin: Plugin) -> str:
    """``"kind name: distribution version"`` of one plugin instance."""
    try:
        info = registry.info(plugin.kind, plugin.name)
    except Exception:  # noqa: BLE001 - an ad-hoc plugin never registered
        return f"{plugin.kind} {plugin.name}: unregistered"
    if not info.distribution:
        return f"{plugin.kind} {plugin.name}: unregistered"
    return f"{plugin.kind} {plugin.name}: {info.distribution} {info.version}"


def row_fields(plugins: Iterable[Plugin]) -> dict[str, str]:
    """The provenance columns for a row produced by ``plugins`` (dataset, inverter, phase, metrics).

    Returns
    -------
    dict
        ``{"versions": ..., "plugin_versions": ...}``.
    """
    return {
        "versions": versions(),
        "plugin_versions": "; ".join(plugin_version(p) for p in plugins if p is not None),
    }
