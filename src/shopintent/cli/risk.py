"""``shopintent risk …``: fraud and bot risk models on a shop's own labelled file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from shopintent.cli.choices import RiskModelKind
from shopintent.cli.output import console, errors, print_json, step_progress, table

app = typer.Typer(help="Fraud and bot risk: train, evaluate and score with reasons and actions.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
DATA = typer.Option(..., "--data", help="Delimited file (comma, pipe, semicolon or tab; sniffed).")
LABEL = typer.Option(..., "--label-col", help="Column holding the 0/1 (or true/false) label, 1 = fraud.")
TIME = typer.Option(None, "--time-col", help="Time column: time split (last day tests) and hour/weekday features.")
COST = typer.Option(None, "--cost", help="Cost matrix TP,FP,FN,TN as profits, e.g. 5,-25,-5,0 (DMC 2019).")
MODEL = typer.Option(RiskModelKind.LIGHTGBM, "--model", help="Model family.")
SEED = typer.Option(0, "--seed", help="Random seed of the folds and the model.")
DROP = typer.Option([], "--drop", help="A column to leave out (repeatable), named as the file spells it.")
CLICKS = typer.Option(None, "--click-cols",
                      help="An ad-click event file: its ip,app,device,os,channel columns as the file names them "
                           "(e.g. ..ip,app,device,os,channel); streaming click features replace the raw columns.")
OUT = typer.Option(..., "--out", help="Model directory.")
MODEL_DIR = typer.Option(..., "--model", help="Model directory written by `risk train`.")
RULES = typer.Option(None, "--rules", help="Rule file (TOML) evaluated beside the model.")


def _cost(text: str | None) -> Any:
    from shopintent.risk.costs import CostMatrix

    return None if text is None else CostMatrix.parse(text)


def _fail(exc: Exception) -> None:
    errors.print(str(exc))
    raise typer.Exit(code=2) from exc


def _fmt(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


@app.command("eval")
def evaluate(data: Path = DATA, label_col: str = LABEL, time_col: str = TIME, cost: str = COST,
             model: RiskModelKind = MODEL, seed: int = SEED, drop: list[str] = DROP,
             click_cols: str = CLICKS, as_json: bool = JSON_OPTION) -> None:
    """Train and test on a split of DATA: ROC-AUC, PR-AUC and, with --cost, profit per 1,000 rows."""
    from shopintent.risk.generic import evaluate_file

    try:
        matrix = _cost(cost)
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"evaluating on {data}", total=None)
            clicks = tuple(c.strip() for c in click_cols.split(",")) if click_cols else ()
            result = evaluate_file(data, label_col, time_col, matrix, model.value, seed, tuple(drop), clicks)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json(result)
        return
    console.print(f"{result['rows']:,} rows, {result['positives']:,} labelled 1; {result['protocol']}")
    _print_dropped(result["dropped"])
    rows = [["ROC-AUC", _fmt(result["roc_auc"])], ["PR-AUC", _fmt(result["pr_auc"])]]
    if "profit_per_1000" in result:
        rows += [["profit per 1,000", f"{result['profit_per_1000']:.1f}"],
                 ["profit per 1,000, flag nobody", f"{result['profit_per_1000_flag_nobody']:.1f}"]]
    console.print(table(f"{result['model']} on {data}", ["measure", "value"], rows))


def _print_dropped(dropped: dict[str, str]) -> None:
    """Name each column the file's reading left out, and why (a leak, an id, no values)."""
    for column, why in dropped.items():
        console.print(f"dropped {column}: {why}")


@app.command()
def train(data: Path = DATA, label_col: str = LABEL, out: Path = OUT,
          time_col: str = TIME, cost: str = COST, model: RiskModelKind = MODEL, seed: int = SEED,
          drop: list[str] = DROP, as_json: bool = JSON_OPTION) -> None:
    """Fit on every row of DATA and save the model, its cost threshold and feature recipe to OUT."""
    from shopintent.risk.generic import train_file

    try:
        matrix = _cost(cost)
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"training on {data}", total=None)
            summary = train_file(data, label_col, out, time_col, matrix, model.value, seed, tuple(drop))
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json(summary)
        return
    console.print(f"model written to {out}: {summary['rows']:,} rows, features {', '.join(summary['features'])}")
    _print_dropped(summary["dropped"])
    console.print(f"hold threshold {_fmt(summary['threshold'])} (chosen on inner folds)")


@app.command()
def score(model: Path = MODEL_DIR, data: Path = DATA, rules: Path = RULES,
          as_json: bool = JSON_OPTION) -> None:
    """A verdict per row of DATA (score, action, reasons); malformed rows are rejected with a reason."""
    from shopintent.risk.generic import score_file
    from shopintent.risk.rules import load_rules

    try:
        rule_list = load_rules(rules) if rules else []
        verdicts, rejected = score_file(model, data, rule_list)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json({"verdicts": [{"row": row, **v.as_dict()} for row, v in verdicts],
                    "rejected": [{"row": r.index, "reason": r.reason} for r in rejected]})
        return
    console.print(table(f"verdicts for {data}", ["row", "score", "action", "reasons"],
                        [[row, f"{v.score:.3f}", v.action, "; ".join(v.reasons)] for row, v in verdicts
                         if v.action != "allow"]))
    counts = {a: sum(v.action == a for _, v in verdicts) for a in ("allow", "review", "hold", "block")}
    console.print(", ".join(f"{n:,} {a}" for a, n in counts.items()) + f"; {len(rejected):,} rejected")
    for r in rejected[:20]:
        errors.print(f"row {r.index}: {r.reason}")
