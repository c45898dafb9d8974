"""Item embeddings from a fitted model: "similar items" and an export for the dashboard.

SASRec's item vectors (own + attribute embedding) and ALS item factors
both place items that shoppers use alike near each other; cosine
similarity between them answers "more like this" without any history.
Models without vectors (kNN, popularity, content) are refused with a clear
message rather than given a made-up embedding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopintent.persist import write_json
from shopintent.recommend.base import Recommender


def item_vectors(model: Recommender) -> np.ndarray:
    """``(n_items, dim)`` vectors of a fitted SASRec or ALS model (row i = item index i + 1)."""
    if hasattr(model, "item_embeddings"):
        return np.asarray(model.item_embeddings(), dtype=np.float32)
    if hasattr(model, "item_factors_"):
        return np.asarray(model.item_factors_[1:], dtype=np.float32)
    raise TypeError(f"a {model.kind} model has no item vectors; train sasrec or als for embeddings")


def similar_items(model: Recommender, item_id: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` items with the most similar vectors (cosine) to ``item_id``."""
    index = model.index_.get(item_id)
    if index == 0:
        raise KeyError(f"item {item_id!r} is not in the model's catalogue")
    vectors = item_vectors(model)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[index - 1]
    sims[index - 1] = -np.inf
    k = min(k, len(sims) - 1)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(model.index_.ids[i], float(sims[i])) for i in top]


def export_embeddings(model: Recommender, path: Path) -> Path:
    """Write ``path/item_embeddings.npy`` and ``path/item_ids.json`` (same order) plus a small meta file."""
    vectors = item_vectors(model)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / "item_embeddings.npy", vectors)
    write_json(path / "item_ids.json", model.index_.ids, indent=None)
    write_json(path / "embeddings.json",
               {"model": model.kind, "dim": int(vectors.shape[1]), "items": int(vectors.shape[0]),
                "data_checksum": model.data_checksum_})
    return path
