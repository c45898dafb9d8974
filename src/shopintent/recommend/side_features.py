"""Dense item side features (photo, title, attribute embeddings) for cold-start items and "similar items".

Why: a collaborative model (session kNN, ALS, SASRec) gives an item nobody has
bought yet no useful score, so a new product never surfaces. Its photo and
title exist from the first minute, though. :class:`SideFeatureColdStart` wraps
any recommender: *warm* items (with training interactions) keep the wrapped
model's scores unchanged, *cold* items get the cosine similarity between the
shopper's history profile (recency-weighted mean of the history items' side
vectors) and their own, put on the wrapped model's scale (both z-scored per
history) and shifted by ``offset``. ``offset`` decides how readily a cold item
enters a top-k list; with ``valid`` examples it is chosen there: the best
overall NDCG@10 among offsets whose warm-target NDCG@10 stays within
``warm_tolerance`` of the wrapped model's. Warm items are never re-ordered
among themselves, so a warm target can only lose rank to cold items placed above it.

:func:`side_matrix` builds the vectors from named blocks (e.g. image and title
embeddings), each block L2-normalised, so every block weighs the same in the
cosine; :func:`similar_items` answers "items like this one" for any item,
interactions or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from shopintent.log import get_logger
from shopintent.recommend.base import Recommender, histories_matrix
from shopintent.recommend.data import Example
from shopintent.recommend.evaluate import item_popularity, metrics_from_ranks, ranks_from_scores
from shopintent.schema.records import InteractionSequence

log = get_logger(__name__)

#: Offsets (in standard deviations of the wrapped model's scores) tried on validation examples.
OFFSETS: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 1e9)


def side_matrix(ids: Sequence[str], blocks: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
    """Rows = ``ids`` (plus row 0, padding), columns = the blocks side by side, unit length overall.

    ``blocks`` maps a block name (``"image"``, ``"title"``) to item id -> vector.
    An item missing from a block gets zeros there; an item in no block is a zero row.
    """
    if not blocks:
        raise ValueError("side_matrix needs at least one block of item vectors")
    parts = []
    for name, vectors in blocks.items():
        dims = {np.asarray(v).shape for v in vectors.values()}
        if len(dims) != 1:
            raise ValueError(f"side feature block {name!r}: vectors of different shapes {sorted(dims)[:3]}")
        dim = dims.pop()[0]
        block = np.zeros((len(ids) + 1, dim), dtype=np.float32)
        for r, item_id in enumerate(ids, start=1):
            vec = vectors.get(item_id)
            if vec is not None:
                block[r] = np.asarray(vec, dtype=np.float32) / max(float(np.linalg.norm(vec)), 1e-12)
        parts.append(block)
    matrix = np.hstack(parts)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def similar_items(matrix: np.ndarray, rows: np.ndarray, k: int = 10, among: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` nearest rows (cosine on unit rows) of each of ``rows``, itself excluded; ``among`` limits the pool."""
    pool = np.arange(1, len(matrix)) if among is None else np.asarray(among)
    sims = matrix[rows] @ matrix[pool].T
    sims[rows[:, None] == pool[None, :]] = -np.inf
    k = min(k, len(pool) - 1)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
    return pool[np.take_along_axis(top, order, axis=1)]


class SideFeatureColdStart(Recommender):
    """A recommender whose cold items (no training interactions) are scored from side features.

    ``base`` is an unfitted recommender (cloned at fit, as scikit-learn's
    meta-estimators do; the fitted copy is ``base_``); ``side`` maps item id -> a
    vector (see :func:`side_matrix`). Both are required at fit, not at
    construction (scikit-learn's rule: ``__init__`` only stores). Persistence is
    not supported: rebuild it around a saved ``base`` (its side vectors come from
    the catalogue, not from training).

    A product nobody has bought yet ("new") whose vector is close to the
    history's item surfaces in the list, between the popular items:

    >>> import numpy as np
    >>> from shopintent.recommend.popularity import Popularity
    >>> from shopintent.schema.records import InteractionSequence as S
    >>> side = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]),
    ...         "c": np.array([0.2, 1.0]), "new": np.array([1.0, 0.1])}
    >>> m = SideFeatureColdStart(Popularity(), side, offset=0.0).fit(
    ...     [S("u1", ("a", "b")), S("u2", ("b", "c"))], catalogue=["a", "b", "c", "new"])
    >>> [item for item, _ in m.recommend(["a"], k=3)]
    ['b', 'new', 'c']
    """

    kind = "sidecold"

    def __init__(self, base: Recommender | None = None, side: Mapping[str, np.ndarray] | None = None,
                 offset: float | None = None,
                 warm_tolerance: float = 0.01, max_valid: int = 4000) -> None:
        self.base = base
        self.side = side
        self.offset = offset
        self.warm_tolerance = warm_tolerance
        self.max_valid = max_valid

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence], valid: Any) -> None:
        if self.base is None:
            raise ValueError("SideFeatureColdStart needs `base`: the recommender to wrap, e.g. Popularity()")
        if not self.side:
            raise ValueError("SideFeatureColdStart needs `side`: item id -> side-feature vector, for some items")
        self.base_ = clone(self.base)
        self.base_.fit(sequences, self.items_, catalogue=self.index_.ids)
        self.warm_ = item_popularity(encoded, self.index_.size) > 0  # padding row 0 counts 0
        self.cold_ = ~self.warm_
        self.cold_[0] = False
        self.side_ = side_matrix(self.index_.ids, {"side": self.side})
        self.offset_ = float(self.offset) if self.offset is not None else 0.0
        self.selection_: dict[str, Any] = {}
        if self.offset is None and valid:
            self.offset_, self.selection_ = self._choose_offset(list(valid))
        log.info("side-feature cold start fitted", cold_items=int(self.cold_.sum()), offset=self.offset_)

    def _parts(self, histories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped model's scores z-scored over warm items (n, size), and cold items' z-scored side similarity."""
        base = np.asarray(self.base_.score(histories), dtype=np.float32)
        warm = base[:, self.warm_]
        warm_z = (base - warm.mean(axis=1, keepdims=True)) / (warm.std(axis=1, keepdims=True) + 1e-9)
        hist = histories_matrix(histories, self.index_.size, "linear")
        profile = np.asarray(hist @ self.side_, dtype=np.float32)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
        sims = profile @ self.side_[self.cold_].T
        if sims.shape[1] == 0:
            return warm_z, sims
        cold_z = (sims - sims.mean(axis=1, keepdims=True)) / (sims.std(axis=1, keepdims=True) + 1e-9)
        return warm_z, cold_z

    def _combine(self, warm_z: np.ndarray, cold_z: np.ndarray, offset: float) -> np.ndarray:
        out = warm_z.copy()
        out[:, self.cold_] = cold_z - offset
        out[:, 0] = -np.inf
        return out

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        warm_z, cold_z = self._parts(histories)
        return self._combine(warm_z, cold_z, self.offset_)

    def _choose_offset(self, valid: list[Example], batch_size: int = 512) -> tuple[float, dict[str, Any]]:
        """Best overall validation NDCG@10 among offsets that keep warm-target NDCG@10 within tolerance.

        At most ``max_valid`` examples (a seeded sample) are scored: the choice is one number.
        """
        if len(valid) > self.max_valid:
            pick = np.random.default_rng(0).choice(len(valid), self.max_valid, replace=False)
            valid = [valid[i] for i in np.sort(pick)]
        ranks: dict[float, list[np.ndarray]] = {o: [] for o in OFFSETS}
        targets_all = np.asarray([self.index_.get(ex.target) for ex in valid])
        for start in range(0, len(valid), batch_size):
            batch = valid[start : start + batch_size]
            histories = [self.index_.encode(list(ex.history)) for ex in batch]
            warm_z, cold_z = self._parts(histories)
            targets = targets_all[start : start + batch_size]
            for offset in OFFSETS:
                scores = self._combine(warm_z, cold_z, offset)
                for r, hist in enumerate(histories):  # history items excluded, as evaluation does
                    scores[r, hist] = -np.inf
                ranks[offset].append(ranks_from_scores(scores, targets))
        is_warm = self.warm_[targets_all]
        table = {}
        for offset in OFFSETS:
            r = np.concatenate(ranks[offset])
            table[offset] = {
                "all": metrics_from_ranks(r, (10,))["NDCG@10"],
                "warm": metrics_from_ranks(r[is_warm], (10,))["NDCG@10"] if is_warm.any() else 0.0,
            }
        reference = table[OFFSETS[-1]]["warm"]  # cold items never above warm ones: the wrapped model
        allowed = [o for o in OFFSETS if table[o]["warm"] >= reference * (1 - self.warm_tolerance)]
        best = max(allowed, key=lambda o: table[o]["all"])
        return best, {"validation_ndcg10": {str(o): v for o, v in table.items()}, "chosen_offset": best}
