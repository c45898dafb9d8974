"""``shopintent bench …``: run benchmarks and write their results and BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

import typer

from shopintent.cli.output import console, errors, print_json, table
from shopintent.evaluation.bench import AREAS, AreaNotBuilt, available_areas, render_markdown, run_area
from shopintent.settings import get_settings

app = typer.Typer(help="Run benchmarks: `all` or one area (" + ", ".join(AREAS) + ").")

RESULTS_OPTION = typer.Option(Path("benchmarks/results"), "--results-dir", help="Where AREA.json goes.")
MARKDOWN_OPTION = typer.Option(Path("BENCHMARKS.md"), "--markdown", help="The page regenerated from results.")


@app.command()
def run(
    area: str = typer.Argument(..., help="all, or one of: " + ", ".join(AREAS)),
    as_json: bool = typer.Option(False, "--json", help="Print the result records as JSON."),
    results_dir: Path = RESULTS_OPTION,
    markdown: Path = MARKDOWN_OPTION,
) -> None:
    """Run the benchmark of AREA (or every built area) and write its JSON and BENCHMARKS.md."""
    settings = get_settings()
    if area == "all":
        areas = available_areas()
        missing = [a for a in AREAS if a not in areas]
        if missing:
            errors.print(f"not built yet, skipped: {', '.join(missing)}")
    elif area in AREAS:
        areas = [area]
    else:
        errors.print(f"unknown area {area!r}; use all or one of {', '.join(AREAS)}")
        raise typer.Exit(code=2)
    records = []
    for name in areas:
        try:
            records.append(run_area(name, settings, results_dir))
        except AreaNotBuilt as exc:
            errors.print(str(exc))
            raise typer.Exit(code=2) from exc
    markdown.write_text(render_markdown(results_dir) + "\n")
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
    console.print(f"wrote {results_dir}/ and {markdown}")
