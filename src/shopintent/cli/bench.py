"""``shopintent bench …``: run benchmarks and write their results and BENCHMARKS.md.

Both outputs are anchored to settings, never to the folder the command starts in:
results go to ``Settings.results_dir`` (``SHOPINTENT_RESULTS_DIR``; by default the
checkout's ``benchmarks/results``, where the dashboard's model cards read them) and
the page to ``BENCHMARKS.md`` beside the ``benchmarks`` folder that holds them.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from shopintent.cli.choices import BenchArea
from shopintent.cli.output import console, description_column, errors, print_json, table
from shopintent.evaluation.bench import AREAS, AreaNotBuilt, available_areas, render_markdown, run_area
from shopintent.evaluation.docs_render import RenderError, write_pages
from shopintent.settings import get_settings

RESULTS_OPTION = typer.Option(
    None, "--results-dir",
    help="Where AREA.json goes (default: SHOPINTENT_RESULTS_DIR, i.e. the checkout's benchmarks/results).")
MARKDOWN_OPTION = typer.Option(
    None, "--markdown",
    help="The page regenerated from the results (default: BENCHMARKS.md beside the results' "
    "benchmarks folder, else inside the results folder).")


def default_markdown(results_dir: Path) -> Path:
    """Where BENCHMARKS.md goes for ``results_dir``: the checkout root for ``…/benchmarks/results``."""
    if results_dir.name == "results" and results_dir.parent.name == "benchmarks":
        return results_dir.parent.parent / "BENCHMARKS.md"
    return results_dir / "BENCHMARKS.md"


def run(
    area: BenchArea = typer.Argument(..., help="all (every built area) or one benchmark area."),
    as_json: bool = typer.Option(False, "--json", help="Print the result records as JSON."),
    results_dir: Path | None = RESULTS_OPTION,
    markdown: Path | None = MARKDOWN_OPTION,
) -> None:
    """Run the benchmark of AREA (or every built area) and write its JSON and BENCHMARKS.md."""
    settings = get_settings()
    results = results_dir or settings.results_dir
    page = markdown or default_markdown(results)
    if area is BenchArea.ALL:
        areas = available_areas()
        missing = [a for a in AREAS if a not in areas]
        if missing:
            errors.print(f"not built yet, skipped: {', '.join(missing)}")
    else:
        areas = [area.value]
    records = []
    # A bar over areas: `bench all` runs for many minutes; one area shows its name and time.
    with Progress(description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=errors, transient=True, disable=as_json) as progress:
        task = progress.add_task("benchmarks", total=len(areas))
        for name in areas:
            progress.update(task, description=f"bench {name}")
            try:
                records.append(run_area(name, settings, results))
            except AreaNotBuilt as exc:
                errors.print(str(exc))
                raise typer.Exit(code=2) from exc
            progress.advance(task)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_markdown(results) + "\n")
    try:  # the docs' result tables too, beside the page (tests/test_docs.py fails while stale)
        write_pages(sorted((page.parent / "docs").glob("*.md")), results)
    except RenderError as exc:
        errors.print(f"docs not re-rendered: {exc}")
    if as_json:
        print_json(records)
        return
    for record in records:
        console.print(
            table(
                f"{record['area']} ({record['command']})",
                ["measurement", "value", "unit", "protocol"],
                [[m["name"], f"{m['value']:,.4g}", m["unit"], m["detail"]] for m in record["measurements"]],
            )
        )
    console.print(f"wrote {results}/ and {page}")
