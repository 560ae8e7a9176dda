"""The README's plugin example is real code: it runs and passes the conformance suite."""

from __future__ import annotations

import re
from pathlib import Path

from melbench import registry
from melbench.testing import check_inverter

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_plugin_example_passes_conformance():
    text = README.read_text()
    section = text.split("## Writing a plugin in a separate package", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README-example", "exec"), ns)
    cls = ns["SmoothedPinv"]
    registry.register("inverter", cls, "smoothed_pinv")
    try:
        inv = registry.create("inverter", "smoothed_pinv", {"width": 5})
        assert inv.label == "smoothed_pinv[width=5]"
        check_inverter(inv)
    finally:
        registry.unregister("inverter", "smoothed_pinv")


def test_readme_states_the_two_setup_commands_first():
    text = README.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    assert first_block.splitlines()[0].startswith("make run")
    assert first_block.splitlines()[1].startswith("make test")
