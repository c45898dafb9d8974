"""Popularity: the floor every recommender must clear.

``mode="global"`` counts every training interaction. ``mode="recent"``
weights each interaction by how recent it is, halving every
``half_life`` steps: time (days) when the sequences carry timestamps, else
positions from the end of each user's sequence (what users reached for last).
The score ignores the history, so it is also the cold-start answer for a
shopper with no known item.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.persist import load_arrays, save_arrays
from shopintent.recommend.base import Recommender
from shopintent.schema.records import InteractionSequence


class Popularity(Recommender):
    """Recommend the most (recently) popular items.

    >>> from shopintent.schema.records import InteractionSequence as S
    >>> m = Popularity().fit([S("u1", ("a", "b")), S("u2", ("b", "c"))])
    >>> m.recommend([], k=1)
    [('b', 2.0)]

    On real Taobao sessions:

    >>> from shopintent.samples import taobao_sequences
    >>> sequences, items = taobao_sequences()
    >>> [item for item, _ in Popularity().fit(sequences, items).recommend([], k=3)]
    ['4350284', '1545024', '3471238']
    """

    kind = "pop"

    def __init__(self, mode: str = "global", half_life: float = 5.0) -> None:
        self.mode = mode
        self.half_life = half_life

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Any) -> None:
        if self.mode not in ("global", "recent"):
            raise ValueError(f"mode must be 'global' or 'recent', not {self.mode!r}")
        counts = np.zeros(self.index_.size, dtype=np.float64)
        if self.mode == "global":
            for seq in encoded:
                np.add.at(counts, seq, 1.0)
        else:
            timed = all(s.timestamps is not None for s in sequences)
            latest = max((s.timestamps[-1] for s in sequences if s.timestamps), default=None) if timed else None
            for seq, raw in zip(encoded, sequences, strict=True):
                if timed and latest is not None and raw.timestamps is not None:
                    known = [t for i, t in zip(raw.items, raw.timestamps, strict=True) if i in self.index_]
                    age = np.asarray([(latest - t).total_seconds() / 86_400.0 for t in known])
                else:
                    age = np.arange(len(seq) - 1, -1, -1, dtype=np.float64)
                np.add.at(counts, seq, 0.5 ** (age / self.half_life))
        counts[0] = 0.0
        self.popularity_ = counts.astype(np.float32)

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(histories), self.index_.size)).copy()

    def _save_state(self, path: Path) -> None:
        save_arrays(path / "popularity.safetensors", {"popularity": self.popularity_})

    def _load_state(self, path: Path) -> None:
        self.popularity_ = load_arrays(path / "popularity.safetensors")["popularity"]
