"""Implicit-feedback matrix factorisation (ALS, Hu, Koren & Volinsky 2008) via ``implicit``.

Every training sequence is a row of a user-item matrix with confidence
``1 + alpha * count``; ``implicit`` learns user and item factors by
alternating least squares. At serving time a history is *folded in*: its
user vector is the closed-form ALS solution against the fixed item factors,
so new shoppers and new histories need no retraining. ALS ignores order,
which is why it trails the sequential models on next-item tasks; it is here
as the classic collaborative-filtering reference and a hybrid component.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopintent.persist import load_arrays, save_arrays
from shopintent.recommend.base import Recommender, histories_matrix
from shopintent.schema.records import InteractionSequence


class ImplicitALS(Recommender):
    """ALS collaborative filtering with fold-in scoring of any history.

    >>> from shopintent.samples import taobao_sequences
    >>> sequences, items = taobao_sequences()
    >>> model = ImplicitALS(factors=16, iterations=5, threads=1).fit(sequences, items)
    >>> model.item_factors_.shape[1], len(model.recommend(list(sequences[0].items[:2]), k=3))
    (16, 3)
    """

    kind = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 15, seed: int = 0, threads: int = 1) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.threads = threads

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Any) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits  # implicit wants single-threaded BLAS

        rows, cols = [], []
        for r, seq in enumerate(encoded):
            rows.extend([r] * len(seq))
            cols.extend(seq.tolist())
        counts = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                               shape=(len(encoded), self.index_.size))
        counts.sum_duplicates()
        confidence = counts.copy()
        confidence.data = self.alpha * confidence.data
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*OpenBLAS is configured.*")
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=1.0, iterations=self.iterations,
                                            num_threads=self.threads, random_state=self.seed)
            model.fit(confidence, show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.item_factors_[0] = 0.0
        self._cache_gram()

    def _cache_gram(self) -> None:
        y = self.item_factors_.astype(np.float64)
        self.gram_ = y.T @ y + self.regularization * np.eye(y.shape[1])

    def user_factors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Fold-in: the ALS user vector of each history against the fixed item factors."""
        y = self.item_factors_.astype(np.float64)
        matrix = histories_matrix(histories, self.index_.size, "binary").tocsr()
        out = np.zeros((len(histories), y.shape[1]), dtype=np.float64)
        for r in range(len(histories)):
            lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
            if hi == lo:
                continue
            items = matrix.indices[lo:hi]
            counts = np.bincount(np.asarray(histories[r]), minlength=1)[items].astype(np.float64)
            c = 1.0 + self.alpha * counts
            yi = y[items]
            a = self.gram_ + (yi.T * (c - 1.0)) @ yi
            out[r] = np.linalg.solve(a, yi.T @ c)
        return out

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        return (self.user_factors(histories) @ self.item_factors_.T.astype(np.float64)).astype(np.float32)

    def _save_state(self, path: Path) -> None:
        save_arrays(path / "item_factors.safetensors", {"item_factors": self.item_factors_})

    def _load_state(self, path: Path) -> None:
        self.item_factors_ = load_arrays(path / "item_factors.safetensors")["item_factors"]
        self._cache_gram()
