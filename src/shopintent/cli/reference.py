"""The README's command list, generated from the Typer app so the two cannot drift.

    python -m shopintent.cli.reference                     # print the markdown
    python -m shopintent.cli.reference --write README.md   # refresh the marked block
    python -m shopintent.cli.reference --check README.md   # exit 1 when it is stale

The block sits between ``<!-- cli:begin -->`` and ``<!-- cli:end -->``; everything
else in the file is left as it is. One row per command a user can run (hidden
ones left out), its arguments in the usage, and the first paragraph of its help.
``tests/cli/test_reference.py`` fails when the README's block differs.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from shopintent.cli.main import app

BEGIN = "<!-- cli:begin -->"
END = "<!-- cli:end -->"
REFRESH = "python -m shopintent.cli.reference --write README.md"


class MissingMarkers(ValueError):
    """The file has no (or a broken) ``<!-- cli:begin -->`` … ``<!-- cli:end -->`` block."""


def _summary(help_text: str | None) -> str:
    """The first paragraph of a help text, on one line."""
    first = inspect.cleandoc(help_text or "").split("\n\n")[0]
    return " ".join(first.split())


def _usage(command: typer.core.TyperCommand | typer.core.TyperGroup) -> str:
    """The command's arguments as a user types them: ``EVENTS``, ``[NAMES]...``."""
    parts = []
    for param in command.params:
        if param.param_type_name != "argument" or getattr(param, "hidden", False):
            continue
        name = (param.name or "").upper() + ("..." if param.nargs == -1 else "")
        parts.append(name if param.required else f"[{name}]")
    return " ".join(parts)


def commands(group: typer.core.TyperGroup | None = None,
             path: tuple[str, ...] = ("shopintent",)) -> Iterator[tuple[str, str]]:
    """``(usage, one-line help)`` for every visible command, depth first in the app's order."""
    group = group if group is not None else typer.main.get_command(app)
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        here = (*path, name)
        sub = getattr(command, "commands", None)
        if sub is None or getattr(command, "invoke_without_command", False):
            usage = " ".join([*here, _usage(command)]).strip()
            yield usage, _summary(command.help)
        if sub is not None:
            yield from commands(command, here)


def render() -> str:
    """The command list as a markdown table (without the markers)."""
    lines = [
        f"<!-- generated from the Typer app by `{REFRESH}`; do not edit by hand -->",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for usage, summary in commands():
        escaped = summary.replace("|", r"\|")  # a pipe would end the table cell
        lines.append(f"| `{usage}` | {escaped} |")
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """``text`` with the marked block's content replaced by ``block``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise MissingMarkers(f"no {BEGIN} … {END} block to fill")
    return text[: start + len(BEGIN)] + "\n" + block + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Print the command list, or write / check the block of a markdown file."""
    parser = argparse.ArgumentParser(prog="python -m shopintent.cli.reference",
                                     description="The README command list from the Typer app.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="FILE", help="fill FILE's marked block")
    action.add_argument("--check", type=Path, metavar="FILE",
                        help="exit 1 when FILE's marked block is not the generated one")
    args = parser.parse_args(argv)
    block = render()
    target = args.write or args.check
    if target is None:
        sys.stdout.write(block + "\n")
        return 0
    text = target.read_text(encoding="utf-8")
    try:
        fresh = replace_block(text, block)
    except MissingMarkers as exc:
        sys.stderr.write(f"{target}: {exc}\n")
        return 2
    if args.write:
        target.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != text:
        sys.stderr.write(f"{target}: the command list is stale; run `{REFRESH}`\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
