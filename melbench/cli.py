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

`melbench <command> --help` gives each command's options.
"""


def cmd_run(argv: list[str]) -> int:
    """Run the Hydra app with ``argv`` as its overrides and flags."""
    import hydra

    from . import app, registry
    from .resources import config_dir

    registry.register_hydra_configs()
    app.FAILED.clear()
    sys.argv = ["melbench-run", *argv]
    main = hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")(
        app.task
    )
    try:
        main()
    except SystemExit as exc:  # Hydra exits 1 with its own clear message on bad overrides
        return int(exc.code or 0)
    return 1 if app.FAILED else 0


def cmd_list(argv: list[str]) -> int:
    """Print every plugin by kind: parameters with defaults, availability, package."""
    import argparse

    from .listing import format_plugins

    p = argparse.ArgumentParser(prog="melbench list", description=cmd_list.__doc__)
    p.add_argument("kind", nargs="?", choices=["inverter", "phase", "metric", "dataset"],
                   help="only this kind")
    args = p.parse_args(argv)
    print(format_plugins(args.kind))
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {"run": cmd_run, "list": cmd_list}


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
    return cmd(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
