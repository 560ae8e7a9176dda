"""The bridge from the plugin registry to Hydra's ConfigStore.

Every available plugin's ``Params`` dataclass becomes a typed structured config
``{name, *params}`` in the config group of its kind (``inverter``, ``phase``,
``dataset``, ``degrade``), and every spec preset one in the group ``spec``, so
``melbench run phase=fgla phase.n_iter=50`` is checked against the plugin's own
parameter types. Discovery itself lives in :mod:`melbench.registry`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from typing import Any

from . import registry
from .errors import ParameterError

#: Plugin kinds with a Hydra config group of the same name (metrics are chosen by a
#: list of names, ``metrics=[sc,pesq]``, in the primary config).
CONFIG_GROUPS: tuple[str, ...] = ("inverter", "phase", "dataset", "degrade")

_SIMPLE = (int, float, str, bool)


def _hydra_type(tp: Any) -> Any:
    """Map a dataclass field type to one OmegaConf accepts (Any where it cannot)."""
    if isinstance(tp, str):
        return Any
    if tp in _SIMPLE:
        return tp
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and non_none[0] in _SIMPLE:
            return typing.Optional[non_none[0]]  # noqa: UP045 - OmegaConf needs Optional
        return Any
    if origin in (list, typing.List) and args and args[0] in _SIMPLE:  # noqa: UP006
        return typing.List[args[0]]  # noqa: UP006
    return Any


def config_node(name: str, params_cls: type, kind: str = "") -> type:
    """A structured-config dataclass ``{name, *params}`` for Hydra's ConfigStore.

    Parameters
    ----------
    name : str
        Plugin name (the default of the node's ``name`` field).
    params_cls : type
        The plugin's ``Params`` dataclass.
    kind : str
        Plugin kind, for error messages and the generated class name.

    Returns
    -------
    type
        A dataclass OmegaConf can type-check (a field without default is ``"???"``).

    Raises
    ------
    ParameterError
        If a parameter is called ``name`` (it would shadow the plugin name).
    """
    hints = typing.get_type_hints(params_cls) if dataclasses.is_dataclass(params_cls) else {}
    fields: list[tuple[str, Any, Any]] = [("name", str, field(default=name))]
    for f in dataclasses.fields(params_cls):
        if f.name == "name":
            raise ParameterError(f"{kind} {name!r}: a parameter may not be called 'name'")
        if f.default is not dataclasses.MISSING:
            default = field(default=f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = field(default_factory=f.default_factory)  # type: ignore[misc]
        else:
            default = field(default="???")
        fields.append((f.name, _hydra_type(hints.get(f.name, f.type)), default))
    safe = "".join(c if c.isalnum() else "_" for c in f"{kind}_{name}")
    return dataclasses.make_dataclass(safe + "_conf", fields)


def register_hydra_configs() -> None:
    """Store every available plugin's Params (and every spec preset) in Hydra's ConfigStore.

    Groups: :data:`CONFIG_GROUPS` and ``spec``; option name = plugin (or preset) name.
    Unavailable plugins are left out (``melbench list`` shows why).
    """
    from hydra.core.config_store import ConfigStore

    from .spec import PRESETS, FeatureSpec

    cs = ConfigStore.instance()
    for kind in CONFIG_GROUPS:
        for name, i in registry.discover()[kind].items():
            if not i.available:
                continue
            assert i.cls is not None
            cs.store(group=kind, name=name, node=config_node(name, i.cls.Params, kind))
    spec_fields = []
    hints = typing.get_type_hints(FeatureSpec)
    for f in dataclasses.fields(FeatureSpec):
        spec_fields.append((f.name, _hydra_type(hints[f.name]), field(default=f.default)))
    for pname, preset in PRESETS.items():
        node_cls = dataclasses.make_dataclass(f"spec_{pname}_conf", [
            *((n, t, field(default=getattr(preset, n))) for n, t, _ in spec_fields),
            # legacy bool: `center: false` in a spec yaml / on the command line sets framing
            ("center", typing.Optional[bool], field(default=None)),  # noqa: UP045
        ])
        cs.store(group="spec", name=pname, node=node_cls)
