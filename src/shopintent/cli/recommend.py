"""``shopintent recommend …``: evaluate, train and query recommenders on a shop's own files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TimeElapsedColumn

from shopintent.cli.choices import Protocol, RecommenderName, SequenceBy, SequenceFormat
from shopintent.cli.output import console, description_column, errors, print_json, table
from shopintent.recommend.workflow import evaluate_sequences, load_inputs, predict, train_sequences

app = typer.Typer(help="Recommenders: evaluate on full ranking, train, predict top-k.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
SEQUENCES_OPTION = typer.Option(..., "--sequences", help="Sequence file: seqtxt ('user item item …') or an event log.")
FORMAT_OPTION = typer.Option(SequenceFormat.SEQTXT, "--format",
                             help="seqtxt ('user item item …' lines) or events (CSV/Parquet/JSONL with "
                             "canonical columns).")
MODEL_OPTION = typer.Option(RecommenderName.SKNN, "--model", help="The recommender to train.")
ATTRIBUTES_OPTION = typer.Option(None, "--attributes", help="JSON {item_id: [attribute, …]} for content/cold start.")
PARAMS_OPTION = typer.Option(None, "--params", help="Model hyper-parameters as JSON, e.g. '{\"epochs\": 20}'.")
BY_OPTION = typer.Option(SequenceBy.USER, "--by",
                         help="For --format events: one sequence per user or per session.")


def _params(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--params is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise typer.BadParameter("--params must be a JSON object")
    return parsed


def _inputs(sequences: Path, fmt: SequenceFormat, attributes: Path | None,  # type: ignore[no-untyped-def]
            by: SequenceBy):
    try:
        return load_inputs(sequences, fmt.value, attributes, by.value)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc


class _EpochBar:
    """A rich progress bar fed by a model's per-epoch callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def __call__(self, epoch: int, total: int, record: dict[str, float]) -> None:
        if self.task is None:
            self.task = self.progress.add_task("training", total=total)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith(("loss", "valid")))
        self.progress.update(self.task, completed=epoch, description=f"epoch {epoch}: {shown}")


def _progress(quiet: bool) -> Progress:
    return Progress(description_column(), BarColumn(), TimeElapsedColumn(),
                    console=errors, disable=quiet, transient=True)


@app.command()
def evaluate(
    sequences: Path = SEQUENCES_OPTION,
    fmt: SequenceFormat = FORMAT_OPTION,
    model: RecommenderName = MODEL_OPTION,
    attributes: Path | None = ATTRIBUTES_OPTION,
    protocol: Protocol = typer.Option(
        Protocol.LEAVE_ONE_OUT, "--protocol",
        help="Split: leave-one-out holds out each sequence's last item for test, the one before for "
        "validation."),
    params: str | None = PARAMS_OPTION,
    by: SequenceBy = BY_OPTION,
    include_seen: bool = typer.Option(False, "--include-seen", help="Rank history items too (re-consumption data)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train on the training part and print HR@10, NDCG@10, HR@20, NDCG@20, MRR@20 on test (full ranking)."""
    seqs, items = _inputs(sequences, fmt, attributes, by)
    try:
        with _progress(as_json) as progress:
            task = progress.add_task(f"fitting {model} on {len(seqs):,} sequences", total=None)
            bar = _EpochBar(progress)
            report = evaluate_sequences(seqs, model.value, items, _params(params), protocol.value,
                                        exclude_seen=not include_seen, on_epoch=bar)
            progress.remove_task(task)
    except (ValueError, KeyError, TypeError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if as_json:
        print_json(report.as_dict())
        return
    names = ["HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@20", "coverage@10"]
    rows = [[part, *(f"{getattr(report, part)[n]:.4f}" for n in names)] for part in ("valid", "test")]
    console.print(table(f"{model} on {sequences.name}: {report.items:,} items, {len(seqs):,} sequences, "
                        f"full ranking, {protocol}", ["split", *names], rows))
    console.print(f"train checksum {report.train_checksum[:16]}…, fit {report.fit_seconds:.1f} s")


@app.command()
def train(
    sequences: Path = SEQUENCES_OPTION,
    fmt: SequenceFormat = FORMAT_OPTION,
    model: RecommenderName = MODEL_OPTION,
    attributes: Path | None = ATTRIBUTES_OPTION,
    params: str | None = PARAMS_OPTION,
    by: SequenceBy = BY_OPTION,
    out: Path = typer.Option(..., "--out", help="Directory to write the model to (model.json + weights)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train on all sequences and save the model to --out."""
    seqs, items = _inputs(sequences, fmt, attributes, by)
    try:
        with _progress(as_json) as progress:
            task = progress.add_task(f"fitting {model} on {len(seqs):,} sequences", total=None)
            fitted = train_sequences(seqs, model.value, out, items, _params(params), on_epoch=_EpochBar(progress))
            progress.remove_task(task)
    except (ValueError, KeyError, TypeError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    summary = {"model": model.value, "out": str(out), "items": len(fitted.index_),
               "data_checksum": fitted.data_checksum_, "fit_seconds": round(fitted.fit_seconds_, 2),
               "metrics": fitted.metrics_}
    if as_json:
        print_json(summary)
        return
    console.print(f"saved {model} ({summary['items']:,} items) to {out} in {summary['fit_seconds']} s")


@app.command("predict")
def predict_command(
    model_dir: Path = typer.Option(..., "--model", help="A directory written by `recommend train`."),
    history: str = typer.Option("", "--history", help="Item ids, oldest first, separated by spaces."),
    k: int = typer.Option(10, "--k", help="How many items."),
    include_seen: bool = typer.Option(False, "--include-seen", help="Allow items already in the history."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Top-k items for a history."""
    try:
        recs = predict(model_dir, history.split(), k, exclude_seen=not include_seen)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if as_json:
        print_json([{"item_id": item, "score": score} for item, score in recs])
        return
    console.print(table(f"top {k}", ["rank", "item", "score"],
                        [[i + 1, item, f"{score:.4f}"] for i, (item, score) in enumerate(recs)]))


@app.command()
def similar(
    model_dir: Path = typer.Option(..., "--model", help="A saved sasrec or als model."),
    item: str = typer.Option(..., "--item", help="The item to find neighbours of."),
    k: int = typer.Option(10, "--k", help="How many items."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Items whose embeddings are closest to ITEM (cosine)."""
    from shopintent.recommend.base import Recommender
    from shopintent.recommend.embeddings import similar_items

    try:
        found = similar_items(Recommender.load(model_dir), item, k)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if as_json:
        print_json([{"item_id": i, "similarity": s} for i, s in found])
        return
    console.print(table(f"items like {item}", ["rank", "item", "cosine"],
                        [[r + 1, i, f"{s:.3f}"] for r, (i, s) in enumerate(found)]))


@app.command("export-embeddings")
def export_embeddings_command(
    model_dir: Path = typer.Option(..., "--model", help="A saved sasrec or als model."),
    out: Path = typer.Option(..., "--out", help="Directory for item_embeddings.npy + item_ids.json."),
) -> None:
    """Export item embeddings for the dashboard."""
    from shopintent.recommend.base import Recommender
    from shopintent.recommend.embeddings import export_embeddings

    try:
        export_embeddings(Recommender.load(model_dir), out)
    except (FileNotFoundError, TypeError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    console.print(f"wrote item embeddings to {out}")


@app.command()
def segments(
    events: Path = typer.Option(..., "--events", help="Event log (CSV/Parquet/JSONL, canonical columns)."),
    k: int = typer.Option(5, "--k", help="Number of segments."),
    seed: int = typer.Option(0, "--seed", help="K-means seed."),
    out: Path | None = typer.Option(None, "--out", help="Write per-user segments as CSV here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """K-means shopper segments on behaviour features; prints each segment's size and profile."""
    from shopintent.recommend.segments import segment_users, user_features
    from shopintent.schema.validation import validate_events
    from shopintent.store.ingest import read_event_file

    try:
        report = validate_events(read_event_file(events))
        result = segment_users(user_features(report.valid), k=k, seed=seed)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if out is not None:
        result.labels.to_frame().to_csv(out)
    if as_json:
        print_json(result.as_dict())
        return
    profile = result.profiles.reset_index()
    console.print(table(f"{k} segments (seed {seed})", [str(c) for c in profile.columns],
                        [[f"{v:.3g}" if isinstance(v, float) else v for v in row] for row in profile.values.tolist()]))
