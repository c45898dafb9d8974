"""BM25 between a question and candidate answers (``bm25s``), zh + en tokens.

Why: the lexical baseline of the AmazonQA response-selection benchmark, and the
half of the hybrid that catches exact product words (model numbers, part
names) an encoder blurs. Nothing is learned from the training pairs; the
index's IDF comes from the answers it holds.

>>> s = BM25Scorer()
>>> docs = s.index(["the filter fits the kenmore 9030", "yes it is quiet", "it ships in a box"])
>>> int(s.score(["does the filter fit a kenmore?"], docs).argmax())
0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np

from shopintent.assist.tokens import tokenize
from shopintent.settings import Settings


@dataclass
class BM25Documents:
    """A bm25s index over the answers (rebuilt from the text on load: it takes milliseconds)."""

    retriever: bm25s.BM25
    size: int


class BM25Scorer:
    """Okapi BM25 (Lucene variant) with ``k1``/``b`` as in Lucene's defaults."""

    kind = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None) -> BM25Scorer:
        """Nothing to learn: BM25's statistics come from the indexed answers."""
        return self

    def index(self, answers: Sequence[str]) -> BM25Documents:
        """Tokenise and index the answers."""
        retriever = bm25s.BM25(k1=self.k1, b=self.b)
        retriever.index([tokenize(a) for a in answers], show_progress=False)
        return BM25Documents(retriever, len(answers))

    def score(self, questions: Sequence[str], documents: BM25Documents) -> np.ndarray:  # type: ignore[override]
        """BM25 of every answer for every question (0 where no word is shared)."""
        out = np.zeros((len(questions), documents.size), dtype=np.float32)
        vocab = documents.retriever.vocab_dict
        for i, question in enumerate(questions):
            words = [w for w in tokenize(question) if w in vocab]
            if words:
                out[i] = documents.retriever.get_scores(words)
        return out

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The two BM25 parameters."""
        return {"k1": self.k1, "b": self.b}, {}

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> BM25Scorer:
        """Rebuild from :meth:`state` (``settings``: unused, as every scorer takes it)."""
        return cls(k1=float(parameters["k1"]), b=float(parameters["b"]))

    def documents_state(self, documents: BM25Documents) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Nothing: the index is rebuilt from the answer text."""
        return {}

    def documents_from_state(self, answers: Sequence[str], arrays: dict[str, np.ndarray]) -> BM25Documents:
        """Re-index the answers."""
        return self.index(answers)
