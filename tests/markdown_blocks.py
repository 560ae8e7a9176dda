"""Reading the README and the docs pages as a test reads them: sections, fenced code blocks,
shell command lines, and checks of a ``melbench ...`` line against the real command line
(its subcommand, its ``--options`` in that subcommand's ``--help``, its Hydra overrides
composed against melbench's config). Used by tests/test_readme.py and tests/test_docs.py."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, line index) of the Markdown headings outside fenced code blocks."""
    out, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#+) (.+)$", line)):
            out.append((len(m.group(1)), m.group(2), i))
    return out


def section(text: str, title: str) -> str:
    """The text under the heading ``title``, up to the next heading of its level or above."""
    lines = text.splitlines()
    hs = headings(text)
    found = [(lv, i) for lv, t, i in hs if t == title]
    assert found, f"no section {title!r}"
    level, start = found[0]
    end = next((i for lv, _, i in hs if i > start and lv <= level), len(lines))
    return "\n".join(lines[start + 1: end]) + "\n"


def page(name: str) -> str:
    """The text of ``docs/<name>.md``."""
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def blocks(text: str, lang: str) -> list[str]:
    """The bodies of the fenced code blocks of language ``lang``."""
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(block: str, prog: str = "melbench") -> list[list[str]]:
    """The ``prog ...`` command lines of a shell block, comments stripped, split like a shell.

    A line ending in a backslash continues on the next one; a ``&&`` chain gives one
    command per part.
    """
    out = []
    joined = re.sub(r"\\\n\s*", " ", block)
    for line in joined.splitlines():
        line = line.strip().lstrip("- ").removeprefix("run: ")
        for part in line.split("&&"):
            part = part.strip()
            if part.startswith(prog + " "):
                # as a shell would: $VARIABLES expanded (a quoted or unquoted ~ after `=` is
                # not expanded by a shell, and Hydra's grammar rejects it)
                args = [os.path.expandvars(a) for a in shlex.split(part, comments=True)]
                if ">" in args:  # a redirection: not an argument
                    args = args[: args.index(">")]
                out.append(args)
    return out


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 600):
    """Run a ``melbench ...`` line with this interpreter; assert exit status 0."""
    assert args[0] == "melbench"
    p = subprocess.run([sys.executable, "-m", "melbench.cli", *args[1:]], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{shlex.join(args)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    return p


def _in_process(main, argv: list[str]) -> str:
    """Output of a command-line entry point called in this process (``--help`` exits)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(argv)
        except SystemExit:
            pass
    return out.getvalue()


@functools.cache
def help_text(*sub: str) -> str:
    """``melbench SUB... --help`` (or ``python -m melbench.papers --help`` for ``papers``
    while that subcommand is not yet part of the command line), run in this process."""
    from melbench import cli

    if sub and sub[0] == "papers" and "papers" not in subcommands():
        from melbench import papers

        text = _in_process(papers.main, [*sub[1:], "--help"])
    else:
        text = _in_process(cli.main, [*sub, "--help"])
    assert "usage" in text.lower(), (sub, text[-2000:])
    return text


@functools.cache
def subcommands() -> tuple[str, ...]:
    from melbench import cli

    return tuple(re.findall(r"^  ([a-z]+) {2,}", _in_process(cli.main, ["--help"]), re.M))


@functools.cache
def bench_topics() -> tuple[str, ...]:
    m = re.search(r"topics: (.*)", help_text("bench"))
    assert m, help_text("bench")
    return tuple(t.strip() for t in m.group(1).split(","))


def _options(args: list[str]) -> list[str]:
    args = [a.strip("[]") for a in args]  # a usage line's optional parts: [--tol X]
    return [a.split("=", 1)[0] for a in args if a.startswith("-") and a not in ("-", "-m")]


# Hydra launchers that come from installed Hydra plugins rather than conf/hydra/launcher/.
PLUGIN_LAUNCHERS = {"basic", "joblib", "submitit_local", "submitit_slurm", "ray"}


def compose_run(overrides: list[str]) -> None:
    """Compose melbench's Hydra config with the overrides of a ``melbench run`` line.

    Sweeps (``a,b,c``) are composed once per value. Launcher choices are checked against
    ``conf/hydra/launcher/`` and the Hydra plugin launchers (composing them would need
    every cluster's launcher package) and left out of the composition with their
    ``hydra.launcher.*`` settings. Raises Hydra's error for an unknown group option or key.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from melbench import hydra_configs
    from melbench.resources import config_dir

    kept = []
    GROUPS = {*hydra_configs.CONFIG_GROUPS, "spec", "experiment", "method"}  # noqa: N806
    for o in overrides:
        key, _, value = o.partition("=")
        if key == "hydra/launcher":
            known = {p.stem for p in (Path(config_dir()) / "hydra" / "launcher").glob("*.yaml")}
            assert value in known | PLUGIN_LAUNCHERS, f"unknown launcher {value!r}"
        elif not key.startswith("hydra.launcher.") and key != "hydra.sweep.dir":
            kept.append(o)
    parsed = OverridesParser.create().parse_overrides(kept)
    variants = [[]]
    for ov in parsed:
        text = ov.input_line
        if ov.is_sweep_override():
            key = text.split("=", 1)[0]
            values = list(ov.sweep_string_iterator())
            if key.lstrip("+~") not in GROUPS:  # a value, not a config choice: one suffices
                values = values[:1]
            variants = [v + [f"{key}={x}"] for v in variants for x in values][:64]
        else:
            variants = [v + [text] for v in variants]
    hydra_configs.register_hydra_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for v in variants:
            compose("config", overrides=v)


def check_command(args: list[str]) -> None:
    """Assert that one ``melbench ...`` line is true to the command line as it is."""
    assert args[0] == "melbench" and len(args) > 1, args
    sub, rest = args[1], args[2:]
    assert sub in subcommands() or sub == "papers", f"{shlex.join(args)}: no subcommand {sub!r}"
    if sub == "run":
        overrides = [a for a in rest if not a.startswith("-")]
        if "--config-dir" in rest:  # a project's own config directory: run literally elsewhere
            return
        bad = [o for o in _options(rest) if o not in ("--help", "--force", "--multirun")]
        assert not bad, f"{shlex.join(args)}: unknown options {bad}"
        if "--help" not in rest:
            compose_run(overrides)
        return
    if sub == "bench":
        if not rest:
            return
        topic = rest[0]
        assert topic in bench_topics(), f"{shlex.join(args)}: no bench topic {topic!r}"
        text = help_text("bench", topic)
    elif sub == "papers" and rest and not rest[0].startswith("-"):  # papers list|run|report
        assert rest[0] in ("list", "run", "report"), f"{shlex.join(args)}: no papers {rest[0]!r}"
        text = help_text("papers", rest[0])
    else:
        text = help_text(sub)
    for opt in _options(rest):
        assert re.search(rf"(^|[\s\[,]){re.escape(opt)}([\s,=\]]|$)", text, re.M), \
            f"{shlex.join(args)}: option {opt} is not in `melbench {sub} --help`"


def python_modules(block: str) -> list[str]:
    """The modules of the ``python -m MODULE`` lines of a shell block."""
    return re.findall(r"python -m (melbench(?:\.\w+)*)", block)


def module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
