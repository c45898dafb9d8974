"""``shopintent store …``: ingest event files, inspect sessions, move data in and out as Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from shopintent.cli.output import console, errors, print_json, step_progress, table
from shopintent.privacy import Pseudonymizer
from shopintent.settings import get_settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events, read_event_file
from shopintent.store.report import summarise

app = typer.Typer(help="The event store: ingest, sessions, Parquet export/import.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
STORE_OPTION = typer.Option(None, "--store", help="DuckDB file (default: SHOPINTENT_STATE_DIR/events.duckdb).")


def _store_path(path: Path | None) -> Path:
    settings = get_settings()
    target = path or settings.store_path
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _fail(exc: Exception) -> typer.Exit:
    """Print a user-facing error (a short key, a store or file of another key) and exit 2."""
    errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@app.command()
def ingest(
    events: Path = typer.Argument(..., help="Event file: CSV (with header), Parquet or JSON lines."),
    store_path: Path | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate, pseudonymise and append an event file; bad rows are reported with row and field."""
    settings = get_settings()
    with step_progress(as_json) as progress:
        task = progress.add_task(f"reading {events}", total=2)
        try:
            frame = read_event_file(events)
        except (FileNotFoundError, ValueError) as exc:
            raise _fail(exc) from exc
        progress.update(task, advance=1,
                        description=f"validating, pseudonymising and storing {len(frame):,} rows")
        try:
            pseudonymizer = Pseudonymizer.from_settings(settings)
            with EventStore(_store_path(store_path), key_id=pseudonymizer.key_id) as store:
                report = ingest_events(store, frame, pseudonymizer,
                                       max_future_skew_s=settings.max_future_skew_s)
        except ValueError as exc:  # PseudonymKeyError, KeyMismatch
            raise _fail(exc) from exc
        progress.advance(task)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.input:,} rows read: {report.accepted:,} accepted "
        f"({report.appended:,} stored, {report.duplicates:,} duplicates), {report.rejected:,} rejected"
    )
    for rejection in report.rejections[:20]:
        errors.print(f"  {rejection}")
    if len(report.rejections) > 20:
        errors.print(f"  … and {len(report.rejections) - 20:,} more problems")


@app.command()
def summary(
    store_path: Path | None = STORE_OPTION,
    gap_minutes: float = typer.Option(None, "--gap-minutes", help="Session inactivity gap."),
    top: int = typer.Option(10, "--top", help="How many categories to list."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Events, sessions, the view → cart → purchase funnel and the top categories."""
    settings = get_settings()
    with EventStore(_store_path(store_path)) as store:
        report = summarise(store, gap_minutes or settings.session_gap_minutes, top)
    if as_json:
        print_json(report.as_dict())
        return
    report.print(console)


@app.command()
def sessions(
    store_path: Path | None = STORE_OPTION,
    gap_minutes: float = typer.Option(None, "--gap-minutes", help="Session inactivity gap."),
    limit: int = typer.Option(20, "--limit", help="How many sessions to show."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Per-session aggregates (longest sessions first)."""
    settings = get_settings()
    with EventStore(_store_path(store_path)) as store:
        frame = store.session_aggregates(gap_minutes or settings.session_gap_minutes)
    frame = frame.sort_values(["n_events", "session_id"], ascending=[False, True]).head(limit)
    if as_json:
        print_json(frame.to_dict(orient="records"))
        return
    columns = ["session_id", "n_events", "n_views", "n_add_to_cart", "n_purchase", "duration_s"]
    console.print(table("Sessions", columns, frame[columns].values.tolist()))


@app.command("export")
def export_parquet(
    path: Path = typer.Argument(..., help="Parquet file to write."),
    store_path: Path | None = STORE_OPTION,
) -> None:
    """Write every stored event to a Parquet file."""
    with EventStore(_store_path(store_path)) as store, step_progress() as progress:
        task = progress.add_task(f"exporting to {path}", total=1)
        store.export_parquet(path)
        progress.advance(task)
        count = store.count()
    console.print(f"exported {count:,} events to {path}")


@app.command("import")
def import_parquet(
    path: Path = typer.Argument(..., help="Parquet file written by `shopintent store export`."),
    store_path: Path | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Append the events of a shopintent export written under the same key (idempotent on event_id).

    Any other Parquet file is refused: raw events go through `shopintent store ingest`.
    """
    try:
        key_id = Pseudonymizer.from_settings(get_settings()).key_id
        with EventStore(_store_path(store_path), key_id=key_id) as store, \
                step_progress(as_json) as progress:
            task = progress.add_task(f"checking and importing {path}", total=1)
            result = store.import_parquet(path)
            progress.advance(task)
    except (FileNotFoundError, ValueError) as exc:  # missing, not an export, another key, invalid rows
        raise _fail(exc) from exc
    if as_json:
        print_json({"appended": result.appended, "duplicates": result.duplicates})
        return
    console.print(f"imported {result.appended:,} events ({result.duplicates:,} duplicates skipped)")
