"""The generic ``shopintent multimodal eval`` protocol on any folder of images + CSV of titles.

Why: a script (``../shared/contracts/check multimodal``) must get comparable
numbers for a shop's own catalogue with one command. Protocol: products that
have an image and a row are split 80/20 by id at random, stratified by the
label, seeded; classes with fewer than 20 products are dropped from the
label task. The frozen ImageNet embedding feeds the image head, the USE title
embedding the title head; ``fused_accuracy`` is late fusion (sum of the two
heads' log-probabilities), ``early_fusion_accuracy`` one head on both.
Text-to-image recall: the contrastive projection is trained on the training
products' (image, title) pairs; up to 1,000 test products (seeded sample)
are the gallery and each test title must find its own photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent.log import get_logger
from shopintent.multimodal.cache import cached_embeddings, cached_trunk
from shopintent.multimodal.contrastive import MIN_STEPS, ContrastiveProjection, retrieval_metrics
from shopintent.multimodal.folder import read_catalogue
from shopintent.multimodal.heads import SoftmaxHead, score
from shopintent.multimodal.split import kept_classes, split_ids
from shopintent.multimodal.text import embed_texts

log = get_logger(__name__)

GALLERY = 1_000


def catalogue_embeddings(
    images: Path, labels: Path, id_col: str, title_col: str, label_col: str | None, state_dir: Path,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, str]]:
    """Products with a usable image and title, their image and title embeddings, and the skipped files."""
    catalogue = read_catalogue(images, labels, id_col, title_col, label_col)
    paths = [Path(p) for p in catalogue.products["path"]]
    trunk, ok, errors = cached_trunk(paths, catalogue.images_sha256, state_dir)
    skipped = {**catalogue.skipped, **errors}
    image = cached_embeddings(trunk, catalogue.images_sha256, state_dir)[ok]
    products = catalogue.products[ok].reset_index(drop=True)
    title = embed_texts(products["title"].tolist(), state_dir)
    return products, image, title, skipped


def retrieval(
    image: np.ndarray, title: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int,
    queries: dict[str, np.ndarray] | None = None, gallery: int = GALLERY, epochs: int = 40,
    min_steps: int = MIN_STEPS,
) -> tuple[ContrastiveProjection, dict[str, Any]]:
    """Train the projection on train pairs; recall@k of test titles (and other ``queries``) over a test gallery."""
    projection = ContrastiveProjection(seed=seed, epochs=epochs, min_steps=min_steps).fit(image[train], title[train])
    rng = np.random.default_rng(seed)
    test_rows = np.flatnonzero(test)
    rows = np.sort(rng.choice(test_rows, size=min(gallery, len(test_rows)), replace=False))
    shared = projection.embed_images(image[rows])
    out = {"title": retrieval_metrics(projection.embed_texts(title[rows]), shared, np.arange(len(rows)))}
    for name, matrix in (queries or {}).items():
        have = ~np.isnan(matrix[rows, 0])
        if have.any():
            out[name] = retrieval_metrics(projection.embed_texts(matrix[rows][have]), shared, np.flatnonzero(have))
    out["gallery_rows"] = rows
    return projection, out


def evaluate_folder(
    images: Path, labels: Path, id_col: str, label_col: str, title_col: str, seed: int, state_dir: Path,
    min_steps: int = MIN_STEPS,
) -> dict[str, Any]:
    """Run the whole protocol; the dict is what ``multimodal eval --json`` prints (``min_steps``: the
    projection's fewest optimiser steps, :class:`ContrastiveProjection`)."""
    products, image, title, skipped = catalogue_embeddings(images, labels, id_col, title_col, label_col, state_dir)
    y = products["label"].astype(str).to_numpy()
    keep = np.isin(y, list(kept_classes(products["label"].astype(str)))) & (y != "")
    if keep.sum() < 2 or len(set(y[keep])) < 2:
        raise ValueError(
            f"--label-col {label_col!r}: fewer than two classes with >= 20 products among {len(y)} products"
        )
    train, test = split_ids(products["id"], products["label"].astype(str), seed=seed)
    tr, te = train & keep, test & keep
    img_head = SoftmaxHead(seed=seed).fit(image[tr], y[tr])
    txt_head = SoftmaxHead(seed=seed).fit(title[tr], y[tr])
    img_lp, txt_lp = img_head.log_proba(image[te]), txt_head.log_proba(title[te])
    both = np.hstack([image, title])
    early = SoftmaxHead(seed=seed).fit(both[tr], y[tr]).predict(both[te])
    classes = img_head.classes_
    scores = {
        "image": score(y[te], classes[img_lp.argmax(1)]),
        "text": score(y[te], classes[txt_lp.argmax(1)]),
        "fused": score(y[te], classes[(img_lp + txt_lp).argmax(1)]),
        "early_fusion": score(y[te], early),
    }
    _, ret = retrieval(image, title, train, test, seed, min_steps=min_steps)
    result: dict[str, Any] = {
        **{f"{m}_accuracy": s["accuracy"] for m, s in scores.items()},
        **{f"{m}_macro_f1": s["macro_f1"] for m, s in scores.items()},
        "text_to_image_recall_at_1": ret["title"]["recall_at_1"],
        "text_to_image_recall_at_5": ret["title"]["recall_at_5"],
        "text_to_image_recall_at_10": ret["title"]["recall_at_10"],
        "text_to_image_mrr": ret["title"]["mrr"],
        "products": int(len(products)), "train_products": int(tr.sum()), "test_products": int(te.sum()),
        "classes": int(len(classes)), "gallery": ret["title"]["gallery"], "seed": seed,
        "split": "80/20 by product id, stratified by label, seeded; classes with >= 20 products",
        "skipped": [{"file": f, "error": e} for f, e in sorted(skipped.items())],
    }
    log.info("multimodal eval done", products=len(products), skipped=len(skipped))
    return result
