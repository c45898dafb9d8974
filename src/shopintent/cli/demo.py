"""``shopintent demo``: the main job on the embedded default, end to end on real data.

Verifies every data set, streams the real Taobao UserBehavior log through the
ingest path (validation → pseudonymisation → DuckDB store), sessionises it and
prints a short report. ``make demo`` runs it first, then ``shopintent models
prepare`` and ``shopintent serve`` (README.md, Quick start).
"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from shopintent.cli.output import console, description_column, errors, table
from shopintent.datasets import registry, taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer
from shopintent.settings import get_settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events
from shopintent.store.report import summarise


def _progress() -> Progress:
    return Progress(
        description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )


def run(
    batch_size: int = typer.Option(5_000, "--batch-size", min=1, help="Events per ingest batch."),
    gap_minutes: float = typer.Option(None, "--gap-minutes", help="Session inactivity gap."),
    top: int = typer.Option(10, "--top", help="How many categories to list."),
) -> None:
    """Verify the data, load Taobao events through privacy → store → sessions, print a report."""
    try:
        _run(batch_size, gap_minutes, top)
    except KeyboardInterrupt:
        errors.print("interrupted: the demo store was not finished; run `shopintent demo` again")
        raise typer.Exit(code=130) from None


def _run(batch_size: int, gap_minutes: float | None, top: int) -> None:
    settings = get_settings()
    gap = gap_minutes or settings.session_gap_minutes
    console.rule("shopintent demo")

    checks = []
    with _progress() as progress:
        task = progress.add_task("verifying data sets", total=len(registry.DATASET_NAMES))
        for name in registry.DATASET_NAMES:
            checks.append(registry.verify(name, settings))
            progress.advance(task)
    console.print(
        table(
            f"Data sets in {settings.data_dir}",
            ["data set", "result"],
            [[c.name, "ok" if c.ok else "FAILED: " + "; ".join(c.errors)] for c in checks],
        )
    )
    if not all(c.ok for c in checks):
        errors.print("some data sets failed verification: see above; the demo needs taobao_userbehavior_head")
        if not next(c for c in checks if c.name == taobao_userbehavior_head.SPEC.name).ok:
            raise typer.Exit(code=1)

    taobao = taobao_userbehavior_head.load(settings)
    events = taobao.events
    store_path = settings.state_dir / "demo.duckdb"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store_path.unlink(missing_ok=True)
    pseudonymizer = Pseudonymizer.from_settings(settings)
    stored = rejected = 0
    with EventStore(store_path) as store, _progress() as progress:
        task = progress.add_task("ingesting Taobao events", total=len(events))
        for start in range(0, len(events), batch_size):
            chunk = events.iloc[start : start + batch_size]
            report = ingest_events(store, chunk, pseudonymizer)
            stored += report.appended
            rejected += report.rejected
            progress.advance(task, len(chunk))
        summary = summarise(store, gap, top)
    console.print(
        f"{stored:,} events stored in {store_path} (user ids pseudonymised); {rejected:,} rejected; "
        f"{len(taobao.out_of_window):,} rows outside the 2017-11-25..12-03 window set aside."
    )
    summary.print(console)
