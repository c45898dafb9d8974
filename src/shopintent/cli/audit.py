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
