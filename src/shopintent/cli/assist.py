"""``shopintent assist …``: index a shop's Q&A file, ask it questions, measure it (1-of-100)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from shopintent.cli.choices import QAKind
from shopintent.cli.output import console, errors, print_json, step_progress, table

app = typer.Typer(help="Customer-service assistant: answers from the shop's own Q&A, with sources.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
QA = typer.Option(..., "--qa", help="Q&A file: .csv, .tsv or .jsonl with a question and an answer per row.")
QUESTION_COL = typer.Option("question", "--question-col", help="Column holding the question.")
ANSWER_COL = typer.Option("answer", "--answer-col", help="Column holding the answer.")
PRODUCT_COL = typer.Option("product_id", "--product-col",
                           help="Column naming the product a row is about (optional in the file; "
                                "rows without one are their own group in the split).")
ID_COL = typer.Option("id", "--id-col", help="Column with a row id used as the answer's source (default: the row number).")
KIND = typer.Option(QAKind.HYBRID, "--kind", help="Question→answer model.")
SEED = typer.Option(0, "--seed", help="Seed of the product split, the negatives and the training.")
INDEX_DIR = typer.Option(..., "--index", help="Index directory written by `assist index`.")


def _fail(exc: Exception) -> None:
    errors.print(str(exc))
    raise typer.Exit(code=2) from exc


def _print_bad_rows(result: dict[str, Any]) -> None:
    for bad in result.get("bad_rows_listed", []):
        errors.print(f"skipped {bad['reason']}")
    if result.get("bad_rows", 0) > len(result.get("bad_rows_listed", [])):
        errors.print(f"... {result['bad_rows']:,} bad rows in all")


@app.command("eval")
def evaluate(qa: Path = QA, question_col: str = QUESTION_COL, answer_col: str = ANSWER_COL,
             product_col: str = PRODUCT_COL, kind: QAKind = KIND, seed: int = SEED,
             as_json: bool = JSON_OPTION) -> None:
    """Split QA by product, fit on 80 %, rank each held-out true answer among 100: accuracy, MRR, recall@k."""
    from shopintent.assist.files import evaluate_file

    try:
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"evaluating {kind.value} on {qa}", total=None)
            result = evaluate_file(qa, question_col, answer_col, product_col, kind.value, seed)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json(result)
        return
    _print_bad_rows(result)
    console.print(f"{result['rows']:,} rows ({result['bad_rows']:,} bad); trained on {result['train_rows']:,} "
                  f"rows of {result['train_products']:,} products, tested on {result['test_rows']:,} rows of "
                  f"{result['test_products']:,} other products (seed {seed})")
    if result["note"]:
        console.print(result["note"])
    rows = [[name, f"{result[key]:.4f}"] for name, key in (
        (f"1-of-{result['candidates']} accuracy", "one_of_100_accuracy"), ("MRR", "mrr"),
        ("recall@3", "recall_at_3"), ("recall@10", "recall_at_10"))]
    console.print(table(f"{kind.value} on {qa}", ["measure", "value"], rows))


@app.command("index")
def index(qa: Path = QA, out: Path = typer.Option(..., "--out", help="Directory to write the index to."),
          question_col: str = QUESTION_COL, answer_col: str = ANSWER_COL, product_col: str = PRODUCT_COL,
          id_col: str = ID_COL, kind: QAKind = KIND, seed: int = SEED, as_json: bool = JSON_OPTION) -> None:
    """Build a QA index from every usable row of QA (confidence calibrated on held-out products) and save it."""
    from shopintent.assist.datasets import load_qa_file
    from shopintent.assist.files import bad_rows_summary
    from shopintent.assist.retrieval import QAIndex

    try:
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"indexing {qa} ({kind.value})", total=None)
            data = load_qa_file(qa, question_col, answer_col, product_col, id_col)
            built = QAIndex.build(data.questions, data.answers, data.products, data.ids,
                                  kind=kind.value, seed=seed)
            built.save(out)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    summary = {"index": str(out), "kind": kind.value, "rows": len(data), **bad_rows_summary(data),
               "sha256": data.sources[0]["sha256"], **built.record}
    if as_json:
        print_json(summary)
        return
    _print_bad_rows(summary)
    console.print(f"index written to {out}: {len(data):,} Q&A rows, {kind.value}; confidence calibrated on "
                  f"{built.record['calibration']} ({built.record['calibration_rows']:,} rows)")


@app.command("ask")
def ask(question: str = typer.Argument(..., help="The shopper's question (any language the model reads)."),
        index_dir: Path = INDEX_DIR,
        product_id: str = typer.Option(None, "--product-id", help="Only answers about this product."),
        k: int = typer.Option(3, "--k", min=1, help="How many answers to show."),
        as_json: bool = JSON_OPTION) -> None:
    """The best stored answers to QUESTION, with their source ids and the confidence that the first is right."""
    from shopintent.assist.retrieval import QAIndex

    try:
        loaded = QAIndex.load(index_dir)
        answers, confidence = loaded.ask(question, product_id=product_id, k=k)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json({"question": question, "confidence": confidence,
                    "answers": [{"text": a.text, "source_id": a.source_id, "score": a.score} for a in answers]})
        return
    if not answers:
        console.print("no answer: the question has no content")
        return
    console.print(f"confidence that the first answer is right: {confidence:.2f}")
    console.print(table(f"answers to: {question}", ["source", "score", "answer"],
                        [[a.source_id, f"{a.score:.3f}", a.text] for a in answers]))


# -- the service flows' answer templates (assist-live) -------------------------------------------
@app.command("templates")
def templates(file: Path = typer.Option(None, "--file", help="The shop's answer template file (TOML, zh + "
                                        "en); default: SHOPINTENT_ASSIST_TEMPLATES, else the shipped file."),
              as_json: bool = JSON_OPTION) -> None:
    """Check the service flows' answer template file the service will use, and list what it holds."""
    from shopintent.assist.phrasebook import Phrasebook, TemplateError
    from shopintent.settings import get_settings

    try:
        summary = Phrasebook.load(file or get_settings().assist_templates).summary()
    except TemplateError as exc:
        _fail(exc)
    if as_json:
        print_json(summary)
        return
    windows = summary["windows"]
    console.print(f"ok: {summary['path']} (zh + en; default language {summary['default_language']}); returns "
                  f"{windows['return_window_days']} days, cancel {windows['cancel_window_hours']} hours, "
                  f"delivery {windows['delivery_days']} days")
    console.print(table("answers", ["section", "outcomes"],
                        [[section, ", ".join(keys)] for section, keys in summary["answers"].items()]))
    handover = summary["handover"]
    console.print(f"hand-over below intent confidence {handover['min_confidence']}, at negative sentiment "
                  f"≥ {handover['negative_sentiment_confidence']}, on risk actions "
                  f"{', '.join(handover['risk_actions'])}")
