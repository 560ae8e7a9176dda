"""``melbench`` command line: run | list (more subcommands register in COMMANDS)."""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = """\
usage: melbench <command> [args]

commands:
  run      run a cell or a sweep (Hydra): melbench run inverter=pinv phase=fgla
           sweep: melbench run -m inverter=transpose,pinv phase=gla,fgla
           see `melbench run --help` for config groups and options
  list     list every plugin by kind, with parameters, defaults and availability
  invert   turn mel files (.npy/.npz/.pt) into audio: melbench invert MEL_OR_DIR -o OUT --spec S
  report   tables, plots and an HTML page from run directories: melbench report RUN_DIR...
  compare  regression gate: melbench compare BASELINE RUN (exit 1 on a regression)
  bench    speed/quality benchmarks measured side by side: melbench bench TOPIC
  papers   paper reproductions: melbench papers list | run NAME | report NAME RUN_DIR

`melbench <command> --help` gives each command's options.
"""


def cmd_run(argv: list[str]) -> int:
    """Run the Hydra app with ``argv`` as its overrides and flags; its exit status."""
    from .app import run_app
    from .hydra_configs import register_hydra_configs

    register_hydra_configs()
    unavailable = _unavailable_choices(argv)
    if unavailable:
        for msg in unavailable:
            print(f"melbench run: error: {msg}", file=sys.stderr)
        return 1
    if "--force" in argv:  # issue 9: recompute rows already in the cache
        argv = [a for a in argv if a != "--force"] + ["force=true"]
    return run_app(argv).exit_code


def _unavailable_choices(argv: list[str]) -> list[str]:
    """Messages for ``kind=name`` overrides naming an installed but unimportable plugin.

    Hydra only knows the available plugins' configs, so without this its "Could not
    find 'phase/broken'" would hide the import error that makes the plugin unavailable.
    """
    from . import registry
    from .hydra_configs import CONFIG_GROUPS

    out = []
    plugins = registry.discover()
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or key not in CONFIG_GROUPS:
            continue
        for name in value.split(","):
            info = plugins[key].get(name.strip())
            if info is not None and not info.available:
                out.append(f"{key} {name.strip()!r} is installed but unavailable: {info.error} "
                           "(`melbench list` shows every plugin's status)")
    return out


def cmd_list(argv: list[str]) -> int:
    """Print every plugin by kind: parameters with defaults, availability, package."""
    import argparse

    from .listing import format_plugins
    from .registry import GROUPS

    p = argparse.ArgumentParser(prog="melbench list", description=cmd_list.__doc__)
    p.add_argument("kind", nargs="?", choices=list(GROUPS), help="only this kind")
    args = p.parse_args(argv)
    print(format_plugins(args.kind))
    return 0


def _delegate(module: str) -> Callable[[list[str]], int]:
    """A command implemented by ``melbench.<module>.main(argv) -> int``, imported lazily."""

    def cmd(argv: list[str]) -> int:
        import importlib

        return int(importlib.import_module(f"melbench.{module}").main(argv) or 0)

    return cmd


def cmd_bench(argv: list[str]) -> int:
    """Run a benchmark module ``melbench.bench.<topic>`` (``melbench bench --help`` lists them)."""
    import importlib
    import pkgutil

    from . import bench

    topics = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: melbench bench TOPIC [options]\n\ntopics: " + ", ".join(topics))
        return 0 if argv else 2
    if argv[0] not in topics:
        print(f"melbench bench: unknown topic {argv[0]!r}; topics: {', '.join(topics)}",
              file=sys.stderr)
        return 2
    return int(importlib.import_module(f"melbench.bench.{argv[0]}").main(argv[1:]) or 0)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": cmd_run,
    "list": cmd_list,
    "invert": _delegate("invert_cli"),
    "report": _delegate("report.cli"),
    "compare": _delegate("compare"),
    "bench": cmd_bench,
    "papers": _delegate("papers.cli"),  # issue 17: paper reproductions (melbench/papers/)
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``melbench`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from ._version import __version__

        print(f"melbench {__version__}")
        return 0
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        print(f"melbench: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    from .validation import plain_warnings

    with plain_warnings(f"melbench {argv[0]}"):
        return cmd(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
