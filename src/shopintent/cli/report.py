"""``shopintent report …``: render HTML reports from the saved evaluations."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from shopintent.cli.output import console, errors
from shopintent.settings import get_settings

app = typer.Typer(help="HTML reports with plots, from the last evaluation of each area.",
                  no_args_is_help=True)


@app.command()
def behaviour(
    out: Path | None = typer.Option(
        None, "--out", help="HTML file to write (default: SHOPINTENT_STATE_DIR/reports/behaviour.html)."),
    evaluation: Path = typer.Option(None, "--evaluation",
                                    help="Evaluation JSON (default: the last `bench behaviour` run)."),
    rerun: bool = typer.Option(False, "--rerun", help="Run the full evaluation first (several minutes)."),
) -> None:
    """Behavioural intent: UCI calibration, Taobao early-prediction curves, CDNOW, importances."""
    from shopintent.behaviour.evaluate import evaluate_all, evaluation_path
    from shopintent.behaviour.report import render_report

    settings = get_settings()
    source = evaluation or evaluation_path(settings)
    if rerun:
        # Text, not str: a status message would be read as rich markup
        with console.status(Text("running the behaviour evaluation")) as status:
            record = evaluate_all(settings, progress=lambda message: status.update(Text(message)))
    elif source.is_file():
        record = json.loads(source.read_text())
    else:
        errors.print(f"no evaluation at {source}: run `shopintent bench behaviour` (or pass --rerun)")
        raise typer.Exit(code=2)
    target = out or settings.state_dir / "reports" / "behaviour.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(record), encoding="utf-8")
    console.print(f"wrote {target}")
