"""Printing helpers shared by the CLI sub-apps: JSON for machines, rich tables for people.

Both consoles print strings as they are, never as rich markup: what the CLI
prints is full of user text (file names, queries, data-set names) and error
messages that quote it, and ``x[/]`` in a file name must come back in an error
message, not as a ``MarkupError`` traceback. Style, where wanted, is given as
:class:`rich.text.Text` styles, never as ``[bold]…[/bold]`` inside a string;
progress columns take :func:`description_column` for the same reason.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(markup=False)
# soft_wrap: an error names a file or field; a path broken across lines can't be copied or grepped
errors = Console(stderr=True, markup=False, soft_wrap=True)


def description_column() -> TextColumn:
    """A progress column showing the task's description as plain text (it may hold a file name)."""
    return TextColumn("{task.description}", markup=False)


def step_progress(quiet: bool = False) -> Progress:
    """A bar over the named steps of a long command (read, store, …), on stderr, with elapsed time.

    For work done in one library call per step, where rows cannot be counted without changing
    what the call does (``store ingest`` validates and keys a file as one request); stdout
    stays clean for ``--json``.
    """
    return Progress(description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=errors, transient=True, disable=quiet)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (dates and paths as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A rich table with the given header and rows."""
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*[str(cell) for cell in row])
    return out
