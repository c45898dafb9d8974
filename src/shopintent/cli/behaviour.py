"""``shopintent behaviour …``: train, evaluate and replay the behavioural-intent models."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from shopintent.cli.choices import BehaviourTask
from shopintent.cli.output import console, description_column, errors, print_json, table
from shopintent.settings import get_settings

app = typer.Typer(help="Purchase, cart-abandonment and next-action models from click streams.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), description_column(), TimeElapsedColumn(),
                    console=errors, transient=True)


def _fmt(value: Any) -> str:
    return "–" if isinstance(value, float) and math.isnan(value) else f"{value:.4f}"


@app.command()
def train(
    events: Path = typer.Option(..., "--events", help="Event file: CSV, Parquet or JSON lines."),
    task: BehaviourTask = typer.Option(BehaviourTask.PURCHASE, "--task", help="Which label to learn."),
    out: Path = typer.Option(..., "--out", help="Model directory to write (model.json + boosters)."),
    gap_minutes: float = typer.Option(None, "--gap-minutes", help="Session inactivity gap."),
    horizon_hours: float = typer.Option(24.0, "--horizon-hours", help="Cart-abandonment horizon."),
    next_window: int = typer.Option(3, "--next-window", help="Events ahead for next-action labels."),
    utc_offset_hours: float = typer.Option(0.0, "--utc-offset-hours", help="Shop's local time offset."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the model (its random_state)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train a model for TASK on an event file and save it to OUT."""
    from shopintent.behaviour.generic import train_file

    gap = gap_minutes or get_settings().session_gap_minutes
    try:
        with _spinner() as progress:
            progress.add_task(f"training {task} on {events}", total=None)
            _, summary = train_file(events, task.value, out, gap, horizon_hours, next_window,
                                    utc_offset_hours, seed)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if as_json:
        print_json(summary)
        return
    info = summary["input"]
    console.print(f"{info['accepted']:,} events accepted ({info['rejected']:,} rejected), "
                  f"{info['sessions']:,} sessions; model written to {out}")
    console.print(table("Time validation (latest 15 % of training prefixes)",
                        ["label", "examples", "ROC-AUC", "PR-AUC", "F1", "threshold"],
                        [[label, f"{v['n']:,}", _fmt(v["roc_auc"]), _fmt(v["pr_auc"]), _fmt(v["f1"]),
                          _fmt(v["threshold"])] for label, v in summary["validation"].items()]))


@app.command("eval")
def evaluate(
    model: Path = typer.Option(..., "--model", help="Model directory written by `behaviour train`."),
    events: Path = typer.Option(..., "--events", help="Event file to evaluate on (held out)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate a saved model on an event file: ROC-AUC, PR-AUC, F1 and the early-prediction curve."""
    from shopintent.behaviour.generic import evaluate_file

    try:
        with _spinner() as progress:
            progress.add_task(f"evaluating {model} on {events}", total=None)
            result = evaluate_file(model, events)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if as_json:
        print_json(result)
        return
    console.print(table(f"{result['task']} on {events}", ["label", "examples", "positives", "ROC-AUC",
                                                          "PR-AUC", "F1", "ECE"],
                        [[label, f"{v['n']:,}", f"{v['positives']:,}", _fmt(v["roc_auc"]),
                          _fmt(v["pr_auc"]), _fmt(v["f1"]), _fmt(v["ece"])]
                         for label, v in result["labels"].items()]))
    for label, curve in result["early_curve"].items():
        console.print(table(f"early prediction: {label}", ["k", "prefixes", "ROC-AUC"],
                            [[p["k"], f"{p['n']:,}", _fmt(p["roc_auc"])] for p in curve]))


@app.command()
def score(
    events: Path = typer.Option(..., "--events", help="Event file; its first session is replayed."),
    session: str = typer.Option(None, "--session", help="Session id to replay (derived ids: user:n)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replay one session event by event through the default scorer (trained on Taobao if absent)."""
    from shopintent.behaviour.default import load_default_scorer
    from shopintent.behaviour.generic import read_sessions

    settings = get_settings()
    try:
        data = read_sessions(events, settings.session_gap_minutes)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    chosen = session or data.events["session_id"].iloc[0]
    rows = data.events[data.events["session_id"] == chosen]
    if rows.empty:
        errors.print(f"session {chosen!r} is not in {events}")
        raise typer.Exit(code=2)
    with _spinner() as progress:
        progress.add_task("loading the default models", total=None)
        scorer = load_default_scorer(settings)
    scores = []
    for event in rows.itertuples():
        result = scorer.update({"event_type": event.event_type, "timestamp": event.timestamp,
                                "item_id": event.item_id, "category_id": event.category_id})
        scores.append({"event_type": event.event_type, "item_id": event.item_id, **result.as_dict()})
    if as_json:
        print_json({"session_id": chosen, "scores": scores})
        return
    console.print(table(f"session {chosen}", ["k", "event", "P(purchase)", "abandon risk",
                                              "P(next cart)", "top reason"],
                        [[s["k"], s["event_type"],
                          "–" if s["purchase_probability"] is None else f"{s['purchase_probability']:.3f}",
                          "–" if s["abandonment_risk"] is None else f"{s['abandonment_risk']:.3f}",
                          f"{s['next_action'].get('add_to_cart', float('nan')):.3f}",
                          (f"{s['reasons'][0]['feature']}={s['reasons'][0]['value']} "
                           f"({s['reasons'][0]['contribution']:+.2f})") if s["reasons"] else "–"]
                         for s in scores]))


@app.command("evaluate-all")
def evaluate_all(as_json: bool = JSON_OPTION) -> None:
    """Run the full real-data evaluation (UCI, Taobao, CDNOW) and save it for the report."""
    from shopintent.behaviour.evaluate import evaluate_all as run_all
    from shopintent.behaviour.evaluate import evaluation_path

    settings = get_settings()
    with _spinner() as progress:
        task = progress.add_task("starting", total=None)
        record = run_all(settings, progress=lambda message: progress.update(task, description=message))
    if as_json:
        print_json(record)
        return
    console.print(f"evaluation written to {evaluation_path(settings)} "
                  f"({record['runtime_s']:.0f} s); render it with `shopintent report behaviour`")
