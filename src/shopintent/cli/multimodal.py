"""``shopintent multimodal …``: product photos + titles — evaluate, index and search any catalogue folder."""

from __future__ import annotations

from pathlib import Path

import typer

from shopintent.cli.output import console, errors, print_json, step_progress, table

app = typer.Typer(help="Product images and titles: attribute heads, fusion, and zh/en text-to-image search.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
IMAGES = typer.Option(..., "--images", help="Folder of product photos named <id>.<ext> (jpg, png, ...).")
LABELS = typer.Option(..., "--labels", help="CSV with one row per product: id, title and label columns.")
ID_COL = typer.Option("id", "--id-col", help="CSV column holding the product id (the image file name without extension).")
TITLE_COL = typer.Option(..., "--title-col", help="CSV column holding the product title.")
LABEL_COL = typer.Option(..., "--label-col", help="CSV column holding the label to classify (e.g. articleType).")
ATTR_COLS = typer.Option([], "--label-col", help="A CSV column to learn as a predicted attribute (repeatable).")
SEED = typer.Option(0, "--seed", help="Seed of the split and the models.")
OUT = typer.Option(None, "--out", help="Index directory (default: STATE_DIR/multimodal/index, what the service loads).")
INDEX = typer.Option(None, "--index", help="Index directory written by `multimodal index` (default: the service's).")
TOP_K = typer.Option(10, "--k", min=1, max=100, help="How many products to return.")


def _settings():  # type: ignore[no-untyped-def]
    import torch

    from shopintent.settings import Settings

    # The heads and projections are small: one thread avoids two threads spin-waiting on a shared CPU
    # (measured 4x slower with two under load).
    torch.set_num_threads(1)
    return Settings()


def _projection_options(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The text-image projection's settings (``SHOPINTENT_MULTIMODAL_MIN_STEPS``); empty: its defaults."""
    steps = settings.multimodal_min_steps
    return {} if steps is None else {"min_steps": steps}


def _fail(exc: Exception) -> None:
    errors.print(str(exc))
    raise typer.Exit(code=2) from exc


def _print_skipped(skipped: list[dict[str, str]]) -> None:
    for item in skipped:
        errors.print(f"skipped {item['error']}")


@app.command("eval")
def evaluate(images: Path = IMAGES, labels: Path = LABELS, id_col: str = ID_COL, label_col: str = LABEL_COL,
             title_col: str = TITLE_COL, seed: int = SEED, as_json: bool = JSON_OPTION) -> None:
    """Split the products (80/20 by id, stratified, seeded), train image/title/fused heads and the
    text-to-image projection, and report held-out accuracy and recall@10."""
    from shopintent.multimodal.evaluate import evaluate_folder

    settings = _settings()
    try:
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"evaluating {images}", total=None)
            result = evaluate_folder(images, labels, id_col, label_col, title_col, seed, settings.state_dir,
                                     **_projection_options(settings))
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    _print_skipped(result["skipped"])
    if as_json:
        print_json(result)
        return
    console.print(f"{result['products']:,} products; test {result['test_products']:,}; {result['split']}")
    rows = [[m, f"{result[f'{m}_accuracy']:.4f}", f"{result[f'{m}_macro_f1']:.4f}"]
            for m in ("image", "text", "fused", "early_fusion")]
    console.print(table(f"{label_col} on {images}", ["modality", "accuracy", "macro-F1"], rows))
    console.print(f"text -> image recall@10 over {result['gallery']} test products: "
                  f"{result['text_to_image_recall_at_10']:.4f} (MRR {result['text_to_image_mrr']:.4f})")


@app.command("index")
def index(images: Path = IMAGES, labels: Path = LABELS, id_col: str = ID_COL, title_col: str = TITLE_COL,
          label_cols: list[str] = ATTR_COLS, seed: int = SEED, out: Path = OUT, as_json: bool = JSON_OPTION) -> None:
    """Embed every photo, train the text-to-image projection and attribute heads, save a searchable index."""
    import pandas as pd

    from shopintent.multimodal.evaluate import catalogue_embeddings
    from shopintent.multimodal.index import ProductIndex
    from shopintent.multimodal.live import index_dir

    settings = _settings()
    target = out or index_dir(settings.state_dir)
    try:
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"indexing {images}", total=None)
            products, image, _, skipped = catalogue_embeddings(images, labels, id_col, title_col, None,
                                                               settings.state_dir)
            attrs = {}
            if label_cols:
                frame = pd.read_csv(labels, dtype=str, keep_default_na=False).drop_duplicates(id_col)
                frame = frame.set_index(id_col)
                for col in label_cols:
                    if col not in frame.columns:
                        raise ValueError(f"--label-col {col!r}: no such column in {labels}")
                    attrs[col] = frame.loc[products["id"], col].tolist()
            built = ProductIndex.build(products["id"].tolist(), products["title"].tolist(), image, attrs,
                                       seed=seed, state_dir=settings.state_dir, paths=products["path"].tolist(),
                                       **_projection_options(settings))
            built.save(target)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    result = {"index": str(target), "products": len(built.ids), "attributes": sorted(built.heads),
              "skipped": [{"file": f, "error": e} for f, e in sorted(skipped.items())]}
    _print_skipped(result["skipped"])
    if as_json:
        print_json(result)
        return
    console.print(f"indexed {result['products']:,} products into {target}; attributes: "
                  f"{', '.join(result['attributes']) or 'none'}")


@app.command("search")
def search(query: str = typer.Argument(..., help="What the shopper is looking for, in Chinese or English."),
           index_dir: Path = INDEX, k: int = TOP_K, as_json: bool = JSON_OPTION) -> None:
    """Products whose photo best matches a text query (zh or en), with cosine scores."""
    from shopintent.multimodal.index import ProductIndex
    from shopintent.multimodal.live import index_dir as default_index_dir

    settings = _settings()
    folder = index_dir or default_index_dir(settings.state_dir)
    try:
        hits = ProductIndex.load(folder, state_dir=settings.state_dir).search(query, k)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        _fail(exc)
    if as_json:
        print_json({"query": query, "results": hits})
        return
    console.print(table(f"top {k} for the query", ["id", "title", "score"],
                        [[h["id"], h["title"], f"{h['score']:.4f}"] for h in hits]))
