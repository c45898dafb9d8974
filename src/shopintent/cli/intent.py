"""``shopintent intent …``: train, evaluate and use text classifiers on any labelled CSV/JSONL; parse text."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn
from rich.text import Text

from shopintent.cli.choices import Backbone, Encoder, IntentHead, IntentKind, TextComponent
from shopintent.cli.output import console, description_column, errors, print_json, table
from shopintent.settings import get_settings

app = typer.Typer(
    help="Text intent: train/eval/predict on your own files, parse shopper text.",
    no_args_is_help=True,
)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
TEXT_COL = typer.Option("text", "--text-col", help="Column (or JSON key) holding the text.")
LABEL_COL = typer.Option("label", "--label-col", help="Column (or JSON key) holding the label.")

T = TypeVar("T")


def _with_spinner(message: str, action: Callable[[], T], quiet: bool) -> T:
    if quiet:
        return action()
    with Progress(
        SpinnerColumn(),
        description_column(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        progress.add_task(message, total=None)
        return action()


def _read(path: Path, text_col: str, label_col: str | None, quiet: bool):  # type: ignore[no-untyped-def]
    from shopintent.text.files import LabelledFileError, read_labelled_file

    try:
        rows = read_labelled_file(path, text_col, label_col)
    except (FileNotFoundError, LabelledFileError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if rows.skipped and not quiet:
        errors.print(f"{path}: skipped {len(rows.skipped)} row(s): " + "; ".join(rows.skipped[:5]))
    return rows


@app.command()
def train(
    train_file: Path = typer.Option(..., "--train", help="Labelled CSV/TSV/JSONL to learn from."),
    valid_file: Path | None = typer.Option(
        None,
        "--valid",
        help="Labelled validation file (calibration + OOS threshold); default: 10% of --train.",
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write the model to."),
    text_col: str = TEXT_COL,
    label_col: str = LABEL_COL,
    oos_label: str = typer.Option("oos", "--oos-label", help="Label that marks out-of-scope rows."),
    encoder: list[Encoder] = typer.Option(
        [Encoder.USE], "--encoder", help="Frozen encoder(s), repeatable; 'none' for TF-IDF only."
    ),
    head: IntentHead = typer.Option(IntentHead.SVM, "--head", help="Linear head over the features."),
    c: float | None = typer.Option(
        None, "--C", help="Inverse regularisation of the head; default: chosen on the validation rows "
        "(with whether TF-IDF helps)."),
    kind: IntentKind = typer.Option(
        IntentKind.LINEAR,
        "--kind",
        help="linear (frozen encoders + TF-IDF, seconds), finetune (encoder trained with its head, "
        "minutes) or ensemble (linear + one fine-tuned model per --backbone).",
    ),
    backbone: list[Backbone] = typer.Option(
        [Backbone.USE], "--backbone", help="Fine-tuned encoder(s): use (zh+en) or minilm (en)."
    ),
    epochs: int = typer.Option(8, "--epochs", help="Most fine-tuning epochs (best on validation kept)."),
    onnx: bool = typer.Option(
        True, "--onnx/--no-onnx", help="Export fine-tuned networks to ONNX Runtime (int8 when it keeps accuracy)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the validation split and the head."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train an intent classifier with calibrated confidence and out-of-scope rejection."""
    rows = _read(train_file, text_col, label_col, as_json)
    valid = _read(valid_file, text_col, label_col, as_json) if valid_file else None
    encoders = () if encoder == [Encoder.NONE] else tuple(e.value for e in encoder)
    model, tuned = _build_classifier(kind, encoders, head.value, c, oos_label,
                                     [b.value for b in backbone], epochs, seed)
    _fit_classifier(model, kind, rows, valid, as_json)
    _save_classifier(model, tuned, out, rows, valid, onnx)
    summary: dict[str, Any] = {
        "model": str(out),
        "classes": len(model.classes_),
        "rows": model.n_train_,
        "validation": model.validation_source_,
        **model.metrics_,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        table(
            f"model written to {out}",
            ["measure", "value"],
            [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in summary.items()],
        )
    )


def _build_classifier(kind: IntentKind, encoders: tuple[str, ...], head: str, c: float | None,
                      oos_label: str, backbones: list[str], epochs: int,
                      seed: int) -> tuple[Any, list[Any]]:
    """The unfitted model of ``kind``, and its fine-tuned members (empty for ``linear``)."""
    from shopintent.text.intent import IntentClassifier

    linear = IntentClassifier(encoders=encoders, head=head, C=c, oos_label=oos_label,
                              random_state=seed, cache_dir=get_settings().state_dir)
    if kind is IntentKind.LINEAR:
        return linear, []
    # torch loads only for the kinds that fine-tune
    from shopintent.text.ensemble import EnsembleClassifier
    from shopintent.text.finetune import FineTunedClassifier

    names = backbones if kind is IntentKind.ENSEMBLE else backbones[:1]
    tuned = [FineTunedClassifier(backbone=name, epochs=epochs, oos_label=oos_label, random_state=seed)
             for name in names]
    if kind is IntentKind.FINETUNE:
        return tuned[0], tuned
    return EnsembleClassifier([linear, *tuned], oos_label=oos_label, random_state=seed), tuned


def _fit_classifier(model: Any, kind: IntentKind, rows: Any, valid: Any | None, quiet: bool) -> None:
    """Fit ``model`` on the training rows (and validation rows when given); exit 2 when it cannot.

    Fine-tuning runs for minutes, so it gets a bar over its epochs; the others a spinner.
    """
    data = (rows.texts, rows.labels, valid.texts if valid else None, valid.labels if valid else None)
    try:
        if kind is IntentKind.FINETUNE:
            with Progress(description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=errors, transient=True, disable=quiet) as progress:
                task = progress.add_task(f"fine-tuning {model.backbone} on {len(rows.texts):,} rows",
                                         total=model.epochs)

                def on_epoch(epoch: int, epochs: int, record: dict[str, float]) -> None:
                    progress.update(task, completed=epoch, description=(
                        f"epoch {epoch}/{epochs}: validation accuracy {record['valid_accuracy']:.4f}"))

                model.fit(*data, on_epoch=on_epoch)
        else:
            _with_spinner(f"training on {len(rows.texts):,} rows", lambda: model.fit(*data), quiet)
    except ValueError as exc:
        errors.print(f"cannot train: {exc}")
        raise typer.Exit(code=2) from exc


def _save_classifier(model: Any, tuned: list[Any], out: Path, rows: Any, valid: Any | None,
                     onnx: bool) -> None:
    """Save ``model`` to ``out``, with ONNX graphs of its fine-tuned members when asked."""
    with tempfile.TemporaryDirectory() as scratch:
        if onnx and tuned:
            # checked on validation rows (or, without them, training rows), never on test
            check_texts = valid.texts if valid else rows.texts[:2000]
            check_labels = valid.labels if valid else rows.labels[:2000]
            for member in tuned:
                member.export_onnx(Path(scratch) / member.backbone, check_texts, check_labels)
        model.save(out)  # copies the ONNX graphs next to the weights


@app.command("eval")
def evaluate(
    model_dir: Path = typer.Option(..., "--model", help="Folder written by `intent train`."),
    test_file: Path = typer.Option(..., "--test", help="Labelled CSV/TSV/JSONL to score on."),
    text_col: str = TEXT_COL,
    label_col: str = LABEL_COL,
    as_json: bool = JSON_OPTION,
) -> None:
    """Accuracy, macro-F1, ECE; OOS recall and in-scope accuracy when the file has `oos` rows."""
    from shopintent.text.ensemble import load_text_classifier
    from shopintent.text.metrics import intent_scores

    settings = get_settings()
    try:
        model = load_text_classifier(model_dir, cache_dir=settings.state_dir)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    rows = _read(test_file, text_col, label_col, as_json)
    predictions = _with_spinner(
        f"scoring {len(rows.texts):,} rows",
        lambda: model.predict_with_confidence(rows.texts),
        as_json,
    )
    scores = intent_scores(
        rows.labels,
        [p for p, _ in predictions],
        [c for _, c in predictions],
        oos_label=model.oos_label,
    )
    unknown = sorted(set(rows.labels) - set(model.classes_) - {model.oos_label})
    result: dict[str, Any] = {"model": str(model_dir), "test": str(test_file), **scores}
    if unknown:
        result["labels_unknown_to_model"] = unknown
    if as_json:
        print_json(result)
        return
    console.print(
        table(
            f"{test_file}",
            ["measure", "value"],
            [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in result.items()],
        )
    )


@app.command()
def predict(
    texts: list[str] = typer.Argument(..., help="Text(s) to classify."),
    model_dir: Path = typer.Option(..., "--model", help="Folder written by `intent train`."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Label and calibrated confidence of each text (`oos` when rejected)."""
    from shopintent.text.ensemble import load_text_classifier

    try:
        model = load_text_classifier(model_dir, cache_dir=get_settings().state_dir)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    out = [
        {"text": t, "label": label, "confidence": round(conf, 4)}
        for t, (label, conf) in zip(
            texts, model.predict_with_confidence(texts, persist=False), strict=True
        )
    ]
    if as_json:
        print_json(out)
        return
    console.print(
        table(
            "predictions",
            ["text", "label", "confidence"],
            [[o["text"], o["label"], o["confidence"]] for o in out],
        )
    )


@app.command("parse")
def parse_text(
    texts: list[str] = typer.Argument(..., help="Shopper text(s), zh or en."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Language, intent + confidence, slots with offsets and sentiment, from the default models."""
    from shopintent.text.parse import load_default_parser

    parser = _with_spinner(
        "loading the default text models (trained on first use)",
        lambda: load_default_parser(get_settings()),
        as_json,
    )
    results = [
        dict(text=t, **r.as_dict()) for t, r in zip(texts, parser.parse_batch(texts), strict=True)
    ]
    if as_json:
        print_json(results)
        return
    for r in results:
        slots = (
            ", ".join(f"{s['label']}={s['text']!r}[{s['start']}:{s['end']}]" for s in r["slots"])
            or "-"
        )
        console.print(Text.assemble(
            (r["text"], "bold"),
            f"  lang={r['language']} intent={r['intent']} "
            f"({r['confidence']}) sentiment={r['sentiment']} slots: {slots}",
        ))


@app.command("train-defaults")
def train_defaults(
    component: list[TextComponent] = typer.Option(
        None,
        "--component",
        help="Only this default model (repeatable; default: every missing one).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train (if missing) and save the default models `parse` uses, under SHOPINTENT_STATE_DIR/text/models."""
    from shopintent.text.defaults import COMPONENTS, ensure_model, model_path

    settings = get_settings()
    done = {}
    for name in [c.value for c in component] if component else list(COMPONENTS):
        _with_spinner(f"{name}", lambda name=name: ensure_model(settings, name, True), as_json)
        done[name] = str(model_path(settings, name))
    if as_json:
        print_json(done)
        return
    console.print(
        table("default text models", ["component", "path"], [[k, v] for k, v in done.items()])
    )
