"""README's "## Command line" block names every option of the service commands issue #12
added or changed (``ltv serve``, ``ltv tenant ...``, ``ltv audit ls``, ``ltv archive renew``),
read from the commands themselves, so a new flag cannot ship undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from ltv.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def _block() -> str:
    text = README.read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```\n(.*?)```", section, re.S)
    assert match, "no code block under ## Command line"
    return match.group(1)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    ctx = click.Context(main)
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(ctx, name)
        assert found is not None, path
        command = found
    return command


@pytest.mark.parametrize("path", [
    ("serve",), ("tenant", "add"), ("tenant", "ls"), ("tenant", "rotate-key"),
    ("tenant", "revoke-key"), ("audit", "ls"), ("archive", "renew"), ("sign",), ("extend",),
    ("validate",), ("remote", "enroll"), ("remote", "approve"),
])
def test_command_line_block_names_every_option(path: tuple[str, ...]) -> None:
    block = _block()
    assert f"ltv {' '.join(path)}" in block or f"| {path[-1]}" in block, path
    flags = {opt for p in _command(path).params if isinstance(p, click.Option)
             for opt in p.opts if opt.startswith("--") and opt != "--help"}
    missing = sorted(f for f in flags if not re.search(re.escape(f) + r"\b", block))
    assert missing == [], f"ltv {' '.join(path)}: {missing}"
