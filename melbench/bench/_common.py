"""Helpers shared by the benchmark modules."""

from __future__ import annotations

from pathlib import Path


def update_readme_section(path: Path, heading: str, section: str) -> None:
    """Replace the README section starting at ``heading`` with ``section``.

    A missing section is inserted before "## Development" (else appended). The
    section ends where the next ``## `` heading starts.
    """
    text = path.read_text(encoding="utf-8")
    if heading in text:
        start = text.index(heading)
        nxt = text.find("\n## ", start + len(heading))
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + section + ("\n" if nxt >= 0 else "") + text[end:]
    elif "\n## Development" in text:
        i = text.index("\n## Development") + 1
        text = text[:i] + section + "\n" + text[i:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
