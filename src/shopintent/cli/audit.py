"""``shopintent audit …``: fairness audits of the models that act on shoppers, as an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopintent.cli.choices import FairnessPart
from shopintent.cli.output import console, errors, print_json, step_progress, table
from shopintent.settings import get_settings

app = typer.Typer(help="Audits: per-group fairness of the models that act on shoppers.", no_args_is_help=True)


@app.command()
def fairness(
    out: Path = typer.Option(None, "--out", help="HTML report path (default: SHOPINTENT_STATE_DIR/reports/fairness.html)."),
    parts: list[FairnessPart] = typer.Option(None, "--part", help="Run only these parts (repeat the option); default all."),
    n_boot: int = typer.Option(200, "--n-boot", min=20, help="Bootstrap resamples per interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the splits, models and resamples."),
    as_json: bool = typer.Option(False, "--json", help="Print the measured numbers as JSON instead of a summary."),
) -> None:
    """Audit every model on real held-out data and write the HTML report (tables and plots)."""
    from shopintent.datasets.base import DataFileMissing
    from shopintent.fairness.groups import NoGroupLargeEnough, UnknownGroupColumn
    from shopintent.fairness.report import write_report
    from shopintent.fairness.run import PARTS, gap_rows, run_fairness

    settings = get_settings()
    selected = [p.value for p in parts] if parts else list(PARTS)
    target = out or Path(settings.state_dir) / "reports" / "fairness.html"
    with step_progress(as_json) as progress:
        task = progress.add_task("fairness", total=len(selected))

        def advance(part: str) -> None:
            progress.update(task, description=f"fairness: {part}", advance=0 if part == selected[0] else 1)

        try:
            run = run_fairness(settings, selected, n_boot=n_boot, seed=seed, progress=advance)
        except (DataFileMissing, UnknownGroupColumn, NoGroupLargeEnough, ValueError) as exc:
            errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from exc
        progress.update(task, completed=len(selected))
    path = write_report(run, target)
    if as_json:
        print_json(json.loads(json.dumps({**run.as_dict(), "report": str(path)}, default=float)))
        return
    rows = gap_rows(run)
    if len(rows):
        console.print(table("gaps between groups (95 % bootstrap interval)", ["model", "column", "gap", "value", "interval"],
                            [[r.model, r.column, r.gap, f"{r.value:.3f}", f"[{r.low:.3f}, {r.high:.3f}]"
                              + (" *" if r.excludes_zero else "")] for r in rows.itertuples()]))
    console.print(f"report written to {path}  (* interval excludes 0)", markup=False)


@app.command()
def release(
    store_path: Path = typer.Option(None, "--store", help="DuckDB file (default: SHOPINTENT_STATE_DIR/events.duckdb)."),
    epsilon: float = typer.Option(None, "--epsilon", help="Total privacy budget ε (default: SHOPINTENT_DP_EPSILON)."),
    segments: int = typer.Option(5, "--segments", min=2, help="K-means segments of the segment tables."),
    seed: int = typer.Option(0, "--seed", help="Seed of the segmentation (the noise cannot be seeded)."),
    as_json: bool = typer.Option(False, "--json", help="Print the export as JSON."),
) -> None:
    """Release the store's funnel, segment sizes and purchase rate per segment with differential privacy."""
    from shopintent.fairness.release import release_store
    from shopintent.store import EventStore

    settings = get_settings()
    path = store_path or settings.store_path
    if not Path(path).is_file():
        errors.print(f"{path}: no event store; ingest events first (`shopintent store ingest`)", markup=False,
                     highlight=False, soft_wrap=True)
        raise typer.Exit(code=2)
    try:
        with EventStore(path) as store:
            released = release_store(store.events(), settings.dp_epsilon if epsilon is None else epsilon,
                                     k=segments, seed=seed)
    except ValueError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from exc
    export = released.export()
    if as_json:
        print_json(export)
        return
    for t in export["tables"]:
        value = "released_rate" if t["rows"] and "released_rate" in t["rows"][0] else "released"
        label = "group" if value == "released_rate" else "count"
        console.print(table(f"{t['name']}, ε = {t['epsilon']:.4g}", [label, value, "noise scale"],
                            [[r[label], f"{r[value]:.4f}" if value == "released_rate" else f"{r[value]:,}",
                              f"{r['scale']:.4g}"] for r in t["rows"]]))
    console.print(f"total ε = {export['epsilon']:g} ({export['composition']}); exact counts are not shown",
                  markup=False)
