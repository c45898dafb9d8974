"""The default hybrid recommender, loaded for ranking only: NumPy over the saved arrays.

Why: the service ranks items with the default hybrid (session kNN + content +
popularity), whose classes are scikit-learn estimators over SciPy sparse
matrices; importing both costs about a CPU second of every service start, while
ranking needs only the saved arrays. :class:`ServedHybrid` reads the same folder
(``weights.json`` and each component's safetensors, CSR parts as saved) and scores
a history as the estimators do, step for step: SciPy's sparse products are
replayed in their own order (:func:`_sparse_row_product`: each output column
summed in float32 in the order its terms arrive, columns listed in reverse order
of first touch, zeros dropped), so the top-k selection sees the same arrays, ties
included. Same items and scores as the estimators on real Taobao histories
(``tests/recommend/test_serving.py``). Any other saved model is loaded by
:meth:`~shopintent.recommend.base.Recommender.load` as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.persist import load_arrays, read_json, read_model_json
from shopintent.recommend.data import ItemIndex

FORMAT_VERSION = 2
RETRAIN = "shopintent recommend train"
#: The component kinds :class:`ServedHybrid` scores itself.
SERVED_KINDS = ("sknn", "content", "pop")


def top_k_indices(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties broken by the lower index.

    ``np.argpartition`` alone picks an arbitrary member of a tie at the
    k-th place, so the same model could answer differently across numpy
    builds; every score equal to the k-th one is kept and the order is made
    total with the index, which is the item's first appearance in training.
    """
    if k >= len(row):
        candidates = np.arange(len(row))
    else:
        kth = -np.partition(-row, k - 1)[k - 1]
        candidates = np.flatnonzero(row >= kth)
    order = np.lexsort((candidates, -row[candidates]))
    return candidates[order][:k]


def standardise(scores: np.ndarray) -> np.ndarray:
    """Z-score each row over its finite entries (padding and excluded items stay ``-inf``)."""
    inner = scores[:, 1:]
    if np.isfinite(inner).all():  # the usual case: only the padding column is -inf
        n = inner.shape[1]
        mean = inner.sum(axis=1, dtype=np.float64) / n
        square = np.einsum("ij,ij->i", inner, inner, dtype=np.float64) / n
        std = np.sqrt(np.maximum(square - mean**2, 1e-12))
        out = np.empty(scores.shape, dtype=np.float32)
        out[:, 0] = -np.inf
        np.subtract(inner, mean[:, None].astype(np.float32), out=out[:, 1:])
        out[:, 1:] /= np.maximum(std, 1e-6)[:, None].astype(np.float32)
        return out
    finite = np.isfinite(scores)
    safe = np.where(finite, scores, 0.0)
    n = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = safe.sum(axis=1, keepdims=True) / n
    var = (np.where(finite, safe - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n
    out = (safe - mean) / np.sqrt(np.maximum(var, 1e-12))
    return np.where(finite, out, -np.inf).astype(np.float32)


class Csr:
    """A CSR matrix as its saved arrays (``persist.save_sparse``), with the row access scoring needs."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> None:
        self.data, self.indices, self.indptr, self.shape = data, indices, indptr, shape

    @classmethod
    def load(cls, file: Path) -> Csr:
        parts = load_arrays(file)
        return cls(parts["data"], parts["indices"], parts["indptr"], (int(parts["shape"][0]), int(parts["shape"][1])))

    def transpose(self) -> Csr:
        """The transpose in CSR, as SciPy's ``.T.tocsr()`` lays it out (rows in ascending order)."""
        rows = np.repeat(np.arange(self.shape[0], dtype=self.indices.dtype), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        counts = np.bincount(self.indices, minlength=self.shape[1])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(self.indptr.dtype)
        return Csr(self.data[order], rows[order], indptr, (self.shape[1], self.shape[0]))

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.data[lo:hi]


def _sparse_row_product(cols: np.ndarray, vals: np.ndarray, matrix: Csr) -> tuple[np.ndarray, np.ndarray]:
    """One row of SciPy's CSR × CSR product (``csr_matmat``), entries in its order.

    Each output column sums ``value × entry`` in float32 in the order the terms arrive
    (the row's entries in order, each matrix row's entries in order); the columns come
    out in reverse order of first touch, and exact zeros are dropped, as SciPy does.
    """
    parts_cols, parts_vals = [], []
    for c, v in zip(cols.tolist(), vals, strict=True):
        row_cols, row_vals = matrix.row(c)
        parts_cols.append(row_cols)
        parts_vals.append(v * row_vals)
    if not parts_cols:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    touched = np.concatenate(parts_cols).astype(np.int64)
    terms = np.concatenate(parts_vals).astype(np.float32)
    sums = np.zeros(matrix.shape[1], dtype=np.float32)
    np.add.at(sums, touched, terms)  # unbuffered: added one after another, in order
    first = np.unique(touched, return_index=True)[1]
    out_cols = touched[np.sort(first)][::-1]
    out_vals = sums[out_cols]
    keep = out_vals != 0
    return out_cols[keep], out_vals[keep]


def history_row(history: np.ndarray, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """``base.histories_matrix`` for one history: sorted item indices and float32 weights."""
    n = len(history)
    w = np.ones(n) if weights == "binary" else np.arange(1, n + 1) / n
    latest: dict[int, float] = {}
    for item, weight in zip(history.tolist(), w.tolist(), strict=True):
        latest[item] = weight
    cols = np.fromiter(latest.keys(), dtype=np.int64, count=len(latest))
    vals = np.fromiter(latest.values(), dtype=np.float64, count=len(latest)).astype(np.float32)
    order = np.argsort(cols, kind="stable")
    return cols[order], vals[order]


class ServedSessionKNN:
    """``SessionKNN``'s scoring over its saved arrays."""

    def __init__(self, path: Path, params: dict[str, Any], width: int) -> None:
        self.k = int(params.get("k", 100))
        self.weighting = str(params.get("weighting", "linear"))
        self.idf = bool(params.get("idf", True))
        self.pop_weight = float(params.get("pop_weight", 1e-3))
        self.width = width
        self.sessions = Csr.load(path / "sessions.safetensors")
        self.sessions_t = self.sessions.transpose()
        weights = load_arrays(path / "weights.safetensors")
        self.inv_norm, self.idf_, self.prior = weights["inv_norm"], weights["idf"], weights["prior"]

    def score_one(self, history: np.ndarray) -> np.ndarray:
        scores = np.zeros(self.width, dtype=np.float32)
        if len(history):
            cols, vals = history_row(history, self.weighting)
            if self.idf:
                vals = vals * self.idf_[cols]
            sim_cols, sims = _sparse_row_product(cols, vals, self.sessions_t)
            sims = sims * self.inv_norm[sim_cols]
            sims = sims * (np.float32(1.0) / np.sqrt(np.maximum(np.float32(len(cols)), np.float32(1.0))))
            if len(sims) > self.k:
                top = np.argpartition(-sims, self.k - 1)[: self.k]
            else:
                top = np.arange(len(sims))
            kept_cols, kept = sim_cols[top], sims[top]
            order = np.argsort(kept_cols, kind="stable")  # the kept matrix is canonical: sorted columns
            item_cols, item_vals = _sparse_row_product(kept_cols[order], kept[order], self.sessions)
            scores[item_cols] = item_vals
        scores += self.pop_weight * self.prior
        return scores


class ServedContent:
    """``ContentBased``'s scoring over its saved arrays."""

    def __init__(self, path: Path, params: dict[str, Any], width: int) -> None:
        self.pop_weight = float(params.get("pop_weight", 0.05))
        self.width = width
        self.attributes = Csr.load(path / "attributes.safetensors")
        self.attributes_t = self.attributes.transpose()
        self.popularity = load_arrays(path / "popularity.safetensors")["popularity"]

    def score_one(self, history: np.ndarray) -> np.ndarray:
        sims = np.zeros(self.width, dtype=np.float32)
        if len(history):
            cols, vals = history_row(history, "linear")
            profile_cols, profile = _sparse_row_product(cols, vals, self.attributes)
            # SciPy's profile.multiply(profile) lists the squares in reverse order, and
            # .sum(axis=1) reduces each row with np.add.reduceat (float32)
            squares = np.ascontiguousarray((profile * profile)[::-1])
            norm = np.sqrt(np.add.reduceat(squares, [0])[0]) if len(squares) else np.float32(0.0)
            profile = profile / np.maximum(norm, np.float32(1e-12)).astype(np.float32)
            item_cols, item_vals = _sparse_row_product(profile_cols, profile, self.attributes_t)
            sims[item_cols] = item_vals
        sims += self.pop_weight * self.popularity
        return sims


class ServedPopularity:
    """``Popularity``'s scoring: its saved popularity row."""

    def __init__(self, path: Path, params: dict[str, Any], width: int) -> None:
        self.popularity = load_arrays(path / "popularity.safetensors")["popularity"]

    def score_one(self, history: np.ndarray) -> np.ndarray:
        return self.popularity.astype(np.float32).copy()


_COMPONENTS = {"sknn": ServedSessionKNN, "content": ServedContent, "pop": ServedPopularity}


class ServedHybrid:
    """A saved ``Hybrid`` of session kNN, content and popularity components, for ranking.

    ``recommend``/``recommend_many`` answer as ``Recommender``'s; ``index_``, ``components``,
    ``metrics_`` and ``record_`` are what the service's card and checks read.
    """

    #: The estimator this is a loaded form of (the service's model id names it).
    estimator_name = "Hybrid"

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.components = [tuple(c) for c in meta["parameters"]["components"]]
        self.metrics_ = meta.get("metrics", {})
        self.record_ = {k: v for k, v in meta.items() if k not in {
            "kind", "format_version", "shopintent_version", "parameters", "data_checksum", "metrics",
            "fit_seconds", "n_items"}}
        self.index_ = ItemIndex(read_json(path / "items.json"))
        self.weights_ = [float(w) for w in read_json(path / "weights.json")]
        width = self.index_.size
        self.models_ = []
        for i, (kind, params) in enumerate(self.components):
            folder = path / f"component_{i}_{kind}"
            sub = read_model_json(folder, kind, FORMAT_VERSION, retrain=RETRAIN)
            self.models_.append(_COMPONENTS[kind](folder, {**params, **sub["parameters"]}, width))

    @staticmethod
    def can_serve(path: Path) -> bool:
        """Whether ``path`` holds a hybrid of components this class scores (peeked, unverified)."""
        try:
            meta = read_json(path / "model.json")
            return meta.get("kind") == "hybrid" and all(
                kind in SERVED_KINDS for kind, _ in meta["parameters"]["components"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    @classmethod
    def load(cls, path: Path | str) -> ServedHybrid:
        """Read a saved hybrid (every folder's manifest verified first)."""
        path = Path(path)
        return cls(path, read_model_json(path, "hybrid", FORMAT_VERSION, retrain=RETRAIN))

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every catalogue item for each encoded history, as ``Hybrid.score``."""
        total = np.zeros((len(histories), self.index_.size), dtype=np.float32)
        for weight, model in zip(self.weights_, self.models_, strict=True):
            if weight:
                rows = np.stack([model.score_one(np.asarray(h, dtype=np.int64)) for h in histories]) \
                    if histories else np.zeros((0, self.index_.size), dtype=np.float32)
                rows[:, 0] = -np.inf
                total += weight * standardise(rows)
        total[:, 0] = -np.inf
        return total

    def recommend(self, history: Sequence[str], k: int = 10, exclude_seen: bool = True) -> list[tuple[str, float]]:
        """Top-``k`` ``(item_id, score)`` for one history of item ids (oldest first)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        return self.recommend_many([history], k, exclude_seen)[0][:k]

    def recommend_many(self, histories: Sequence[Sequence[str]], k: int = 10,
                       exclude_seen: bool = True) -> list[list[tuple[str, float]]]:
        """:meth:`recommend` for a batch (one scoring pass)."""
        encoded = [self.index_.encode(list(h)) for h in histories]
        out = []
        for row, enc in zip(self.score(encoded), encoded, strict=True):
            if exclude_seen and len(enc):
                row[enc] = -np.inf
            top = top_k_indices(row, min(k, len(self.index_)))
            out.append([(self.index_.decode(int(i)), float(row[i])) for i in top if np.isfinite(row[i])])
        return out
