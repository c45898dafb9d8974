"""Content-based recommendation and cold start from item attributes.

An item is its TF-IDF-weighted attribute vector (category, brand, any
codes); a history is the recency-weighted sum of its items' vectors; items
are scored by cosine similarity to it. Because the score comes from
attributes, an item nobody has interacted with yet still gets a real score
(the cold-start case), and a new shopper with one or two events gets items
like those. A small popularity term orders items with the same attributes
(and is the whole answer for an empty history).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopintent.persist import load_arrays, load_sparse, save_arrays, save_sparse
from shopintent.recommend.base import Recommender, histories_matrix
from shopintent.schema.records import InteractionSequence, Item


def attribute_matrix(ids: Sequence[str], items: dict[str, Item]) -> tuple[sp.csr_matrix, list[str]]:
    """Rows = catalogue (row 0 padding), columns = attribute codes; L2-normalised TF-IDF."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, item_id in enumerate(ids, start=1):
        item = items.get(item_id)
        if item is None:
            continue
        codes = list(item.attributes)
        if item.category_id and f"cat:{item.category_id}" not in codes:
            codes.append(f"cat:{item.category_id}")
        if item.brand:
            codes.append(f"brand:{item.brand}")
        for code in set(codes):
            rows.append(r)
            cols.append(vocab.setdefault(code, len(vocab)))
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                           shape=(len(ids) + 1, max(len(vocab), 1)))
    df = np.asarray((matrix > 0).sum(axis=0)).ravel()
    idf = np.log((len(ids) + 1.0) / (df + 1.0)) + 1.0
    matrix = (matrix @ sp.diags(idf.astype(np.float32))).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    matrix = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix).tocsr()
    return matrix.astype(np.float32), list(vocab)


class ContentBased(Recommender):
    """Attribute-similarity recommender; scores cold items from their attributes.

    >>> from shopintent.schema.records import InteractionSequence as S, Item
    >>> items = {"a": Item("a", attributes=("red",)), "b": Item("b", attributes=("blue",)),
    ...          "new": Item("new", attributes=("red",))}
    >>> ContentBased().fit([S("u", ("a", "b"))], items=items).recommend(["a"], k=1)[0][0]
    'new'

    On real Taobao sessions (items described by their category):

    >>> from shopintent.samples import taobao_sequences
    >>> sequences, items = taobao_sequences()
    >>> len(ContentBased().fit(sequences, items).recommend(list(sequences[0].items[:2]), k=3))
    3
    """

    kind = "content"

    def __init__(self, pop_weight: float = 0.05) -> None:
        self.pop_weight = pop_weight

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Any) -> None:
        self.attributes_, self.attribute_vocab_ = attribute_matrix(self.index_.ids, self.items_)
        counts = np.zeros(self.index_.size, dtype=np.float64)
        for seq in encoded:
            np.add.at(counts, seq, 1.0)
        counts[0] = 0.0
        self.popularity_ = (np.log1p(counts) / max(np.log1p(counts.max()), 1e-12)).astype(np.float32)
        self.cold_items_ = int(((counts[1:] == 0) & (np.asarray(self.attributes_.sum(axis=1)).ravel()[1:] > 0)).sum())

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        hist = histories_matrix(histories, self.index_.size, "linear")
        profile = (hist @ self.attributes_).tocsr()
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile.data /= np.repeat(np.maximum(norms, 1e-12), np.diff(profile.indptr)).astype(profile.data.dtype)
        sims = np.asarray((profile @ self._attributes_t()).toarray(), dtype=np.float32)
        sims += self.pop_weight * self.popularity_[None, :]
        return sims

    def _attributes_t(self) -> sp.csr_matrix:
        cached = getattr(self, "_transposed", None)
        if cached is None:
            cached = self._transposed = self.attributes_.T.tocsr()
        return cached

    def _save_state(self, path: Path) -> None:
        save_sparse(path / "attributes.safetensors", self.attributes_)
        save_arrays(path / "popularity.safetensors", {"popularity": self.popularity_})

    def _load_state(self, path: Path) -> None:
        self.attributes_ = load_sparse(path / "attributes.safetensors")
        self.popularity_ = load_arrays(path / "popularity.safetensors")["popularity"]
