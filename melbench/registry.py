"""Plugin discovery through entry points, and the bridge to Hydra's ConfigStore.

One entry-point group per kind (:data:`GROUPS`). melbench's own plugins are
declared in its pyproject exactly like third-party ones, so one mechanism finds
both. Discovery is lazy and per process: the first call to :func:`discover`
(or :func:`get`) in a process reads the entry points, so Hydra's joblib
workers, which never ran the CLI's set-up, see the same plugins. A plugin that
fails to import is kept as *unavailable* with the reason; the others work.
"""

from __future__ import annotations

import dataclasses
import threading
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from .errors import ParameterError, PluginUnavailableError, UnknownPluginError
from .plugin import KINDS, Plugin

#: Entry-point group of each plugin kind.
GROUPS: dict[str, str] = {
    "inverter": "melbench.inverters",
    "phase": "melbench.phase",
    "metric": "melbench.metrics",
    "dataset": "melbench.datasets",
}


@dataclass
class PluginInfo:
    """What the registry knows about one plugin, loaded or not."""

    kind: str
    name: str
    target: str
    distribution: str = ""
    version: str = ""
    cls: type[Plugin] | None = None
    error: str | None = None

    @property
    def available(self) -> bool:
        """True if the plugin imported and is a proper subclass of its kind's base."""
        return self.cls is not None and self.error is None


_lock = threading.RLock()
_registry: dict[str, dict[str, PluginInfo]] | None = None
_manual: dict[str, dict[str, PluginInfo]] = {k: {} for k in GROUPS}


def _load(ep: metadata.EntryPoint, kind: str) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    info = PluginInfo(
        kind=kind, name=ep.name, target=ep.value,
        distribution=getattr(dist, "name", "") or "", version=getattr(dist, "version", "") or "",
    )
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - any import failure makes it unavailable
        info.error = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
        return info
    base = KINDS[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        info.error = f"{ep.value!r} is not a subclass of melbench.plugin.{base.__name__}"
        return info
    if not cls.name:
        cls.name = ep.name
    elif cls.name != ep.name:
        # the entry-point name is the public one; a class may be registered under aliases
        cls = type(cls.__name__, (cls,), {"name": ep.name, "__module__": cls.__module__})
    info.cls = cls
    return info


def discover(refresh: bool = False) -> dict[str, dict[str, PluginInfo]]:
    """Read every entry-point group once per process (or again with ``refresh``).

    Returns
    -------
    dict
        ``{kind: {name: PluginInfo}}`` including unavailable plugins.
    """
    global _registry
    with _lock:
        if _registry is not None and not refresh:
            return _registry
        reg: dict[str, dict[str, PluginInfo]] = {}
        for kind, group in GROUPS.items():
            found: dict[str, PluginInfo] = {}
            for ep in metadata.entry_points(group=group):
                if ep.name in found:  # the same distribution seen twice on sys.path
                    continue
                found[ep.name] = _load(ep, kind)
            found.update(_manual[kind])
            reg[kind] = dict(sorted(found.items()))
        _registry = reg
        return reg


def register(kind: str, cls: type[Plugin], name: str | None = None) -> None:
    """Register a plugin class in this process (tests, notebooks, quick experiments).

    Packages should declare an entry point instead, so that every process finds them.
    """
    if kind not in GROUPS:
        raise ParameterError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")
    name = name or cls.name
    if not name:
        raise ParameterError("plugin needs a name")
    if cls.name != name:
        cls = type(cls.__name__, (cls,), {"name": name, "__module__": cls.__module__})
    with _lock:
        _manual[kind][name] = PluginInfo(kind=kind, name=name, target=cls.__qualname__, cls=cls)
        if _registry is not None:
            _registry[kind][name] = _manual[kind][name]


def unregister(kind: str, name: str) -> None:
    """Remove a plugin added with :func:`register`."""
    with _lock:
        _manual[kind].pop(name, None)
        if _registry is not None:
            discover(refresh=True)


def available(kind: str) -> list[str]:
    """Names of the importable plugins of ``kind``."""
    return [n for n, i in discover()[kind].items() if i.available]


def info(kind: str, name: str) -> PluginInfo:
    """The :class:`PluginInfo` of one plugin; unknown names raise with the choices."""
    if kind not in GROUPS:
        raise UnknownPluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")
    plugins = discover()[kind]
    if name not in plugins:
        avail = ", ".join(available(kind)) or "none"
        broken = [n for n, i in plugins.items() if not i.available]
        extra = f" (unavailable: {', '.join(broken)}; see `melbench list`)" if broken else ""
        raise UnknownPluginError(f"no {kind} named {name!r}; available {kind}s: {avail}{extra}")
    return plugins[name]


def get(kind: str, name: str) -> type[Plugin]:
    """Return the plugin class, or raise a clear error if unknown or unavailable."""
    i = info(kind, name)
    if not i.available:
        raise PluginUnavailableError(f"{kind} {name!r} is installed but unavailable: {i.error}")
    assert i.cls is not None
    return i.cls


def create(kind: str, name: str, params: Mapping[str, Any] | None = None) -> Plugin:
    """Instantiate plugin ``name`` of ``kind`` with parameters from a mapping."""
    cls = get(kind, name)
    return cls(dict(params or {}))


def from_config(kind: str, node: Any) -> Plugin:
    """Instantiate from a config node ``{name: ..., <params>...}`` (Hydra or dict)."""
    if isinstance(node, str):
        return create(kind, node)
    d = dict(_to_container(node))
    name = d.pop("name", None)
    if not name:
        raise ParameterError(f"{kind} config has no 'name': {d}")
    return create(kind, name, d)


def _to_container(node: Any) -> Mapping[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(node, DictConfig):
            return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover
        pass
    return node


# --------------------------------------------------------------------------- Hydra bridge

_SIMPLE = (int, float, str, bool)


def _hydra_type(tp: Any) -> Any:
    """Map a dataclass field type to one OmegaConf accepts (Any where it cannot)."""
    if isinstance(tp, str):
        return Any
    if tp in _SIMPLE:
        return tp
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and non_none[0] in _SIMPLE:
            return typing.Optional[non_none[0]]  # noqa: UP045 - OmegaConf needs Optional
        return Any
    if origin in (list, typing.List) and args and args[0] in _SIMPLE:  # noqa: UP006
        return typing.List[args[0]]  # noqa: UP006
    return Any


def config_node(name: str, params_cls: type, kind: str = "") -> type:
    """A structured-config dataclass ``{name, *params}`` for Hydra's ConfigStore."""
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

    Groups: ``inverter``, ``phase``, ``dataset``, ``spec``; option name = plugin name.
    Metrics are chosen by a list of names (``metrics=[sc,pesq]``) in the primary config.
    """
    from hydra.core.config_store import ConfigStore

    from .spec import PRESETS, FeatureSpec

    cs = ConfigStore.instance()
    for kind in ("inverter", "phase", "dataset"):
        for name, i in discover()[kind].items():
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
    from .degrade import register_hydra_configs as _register_degrade

    _register_degrade(cs)  # group "degrade": none/noise/smooth/quantize (not a plugin kind)
