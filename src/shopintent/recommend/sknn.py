"""Session kNN (SKNN) and vector-multiplied session kNN (V-SKNN), after Ludewig & Jannach 2018.

A history is compared with every training sequence that shares an item;
the ``k`` most similar sequences vote for their items with their
similarity. V-SKNN (``weighting="linear"``) weights the history's items by
recency (the i-th of n counts i/n) so the last clicks decide the
neighbours. Ludewig & Jannach found these simple neighbourhood methods on a
par with GRU4Rec/NARM on short sessions; they train in seconds and are the
baseline a neural model must beat. With ``idf`` rare shared items count
more than blockbusters.

All work is sparse linear algebra: similarities are ``H @ S.T`` for a
batch of history vectors ``H`` and the sequence-item matrix ``S``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopintent.persist import load_arrays, load_sparse, save_arrays, save_sparse
from shopintent.recommend.base import Recommender, histories_matrix
from shopintent.schema.records import InteractionSequence


class SessionKNN(Recommender):
    """SKNN / V-SKNN next-item recommender over training sequences.

    >>> from shopintent.schema.records import InteractionSequence as S
    >>> train = [S("u1", ("a", "b", "c")), S("u2", ("a", "b", "d")), S("u3", ("x", "y"))]
    >>> SessionKNN(k=2).fit(train).recommend(["a", "b"], k=2)[0][0] in {"c", "d"}
    True

    On real Taobao sessions:

    >>> from shopintent.samples import taobao_sequences
    >>> sequences, items = taobao_sequences()
    >>> model = SessionKNN().fit(sequences, items)
    >>> len(model.recommend(list(sequences[0].items[:2]), k=3))
    3
    """

    kind = "sknn"

    def __init__(self, k: int = 100, weighting: str = "linear", idf: bool = True,
                 recent: int = 0, pop_weight: float = 1e-3) -> None:
        self.k = k
        self.weighting = weighting
        self.idf = idf
        self.recent = recent
        self.pop_weight = pop_weight

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Any) -> None:
        if self.weighting not in ("binary", "linear"):
            raise ValueError(f"weighting must be 'binary' or 'linear', not {self.weighting!r}")
        kept = [seq[-self.recent:] if self.recent else seq for seq in encoded if len(seq)]
        matrix = histories_matrix(kept, self.index_.size, "binary")
        matrix.data[:] = 1.0
        self.sessions_ = matrix.tocsr()
        lengths = np.asarray(self.sessions_.sum(axis=1)).ravel()
        self.inv_norm_ = (1.0 / np.sqrt(np.maximum(lengths, 1.0))).astype(np.float32)
        df = np.asarray(self.sessions_.sum(axis=0)).ravel()
        n = max(self.sessions_.shape[0], 1)
        self.idf_ = np.where(df > 0, np.log((n + 1.0) / (df + 1.0)) + 1.0, 0.0).astype(np.float32)
        # A tiny popularity prior breaks ties among items the neighbours do not cover.
        self.prior_ = (df / max(df.max(), 1.0)).astype(np.float32)
        self.sessions_t_ = self.sessions_.T.tocsr()

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        hist = histories_matrix(histories, self.index_.size, self.weighting)
        lengths = np.diff(hist.indptr).astype(np.float32)
        if self.idf:
            hist.data *= self.idf_[hist.indices]
        sims = (hist @ self.sessions_t_).tocsr()
        # Cosine normalisation in place (cheaper than diagonal matrices for one history).
        sims.data *= self.inv_norm_[sims.indices]
        sims.data *= np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1.0)), np.diff(sims.indptr))
        sims = self._keep_top(sims)
        scores = np.asarray((sims @ self.sessions_).toarray(), dtype=np.float32)
        scores += self.pop_weight * self.prior_[None, :]
        return scores

    def _keep_top(self, sims: sp.csr_matrix) -> sp.csr_matrix:
        indptr, indices, data = sims.indptr, sims.indices, sims.data
        rows, cols, vals = [], [], []
        for r in range(sims.shape[0]):
            lo, hi = indptr[r], indptr[r + 1]
            if hi == lo:
                continue
            d = data[lo:hi]
            if hi - lo > self.k:
                top = np.argpartition(-d, self.k - 1)[: self.k]
            else:
                top = np.arange(hi - lo)
            rows.append(np.full(len(top), r))
            cols.append(indices[lo:hi][top])
            vals.append(d[top])
        if not rows:
            return sp.csr_matrix(sims.shape, dtype=np.float32)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=sims.shape)

    def _save_state(self, path: Path) -> None:
        save_sparse(path / "sessions.safetensors", self.sessions_)
        save_arrays(path / "weights.safetensors",
                    {"inv_norm": self.inv_norm_, "idf": self.idf_, "prior": self.prior_})

    def _load_state(self, path: Path) -> None:
        self.sessions_ = load_sparse(path / "sessions.safetensors")
        weights = load_arrays(path / "weights.safetensors")
        self.inv_norm_, self.idf_, self.prior_ = weights["inv_norm"], weights["idf"], weights["prior"]
        self.sessions_t_ = self.sessions_.T.tocsr()
