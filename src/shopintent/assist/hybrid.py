"""Lexical + dense: a weighted sum of BM25 and a dense scorer, each standardised per question.

Why: BM25 catches the exact words an encoder blurs (model numbers, part
names, "Kenmore 9030"), the encoder catches paraphrase; their errors differ,
so a blend beats both. Scores are standardised per question across the indexed
answers (BM25 is unbounded, cosine is not) and the BM25 weight is chosen on
products held out of the dense model's training, by 1-of-100 accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopintent.assist.datasets import product_split
from shopintent.assist.lexical import BM25Documents, BM25Scorer
from shopintent.assist.protocol import _fold, candidate_sets, rank_metrics
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean over its standard deviation (a constant row becomes zeros)."""
    std = scores.std(axis=1, keepdims=True)
    return (scores - scores.mean(axis=1, keepdims=True)) / np.where(std > 1e-9, std, 1.0)


@dataclass
class HybridDocuments:
    """The two scorers' indexes of the same answers."""

    lexical: BM25Documents
    dense: Any

    @property
    def size(self) -> int:
        """How many answers."""
        return int(self.lexical.size)


class HybridScorer:
    """``w · z(BM25) + (1 − w) · z(dense)``; ``dense`` is a scorer kind (default: the fine-tuned ``dual``)."""

    kind = "hybrid"

    def __init__(self, dense: str = "dual", weight: float | None = None, seed: int = 0,
                 settings: Settings | None = None, scorer: Any | None = None) -> None:
        """``scorer``: the ``dense`` kind's scorer, already built; else a fresh one is made."""
        from shopintent.assist.retrieval import make_scorer

        self.dense_kind = dense
        self.weight = weight
        self.seed = seed
        self.settings = settings
        self.lexical = BM25Scorer()
        self.dense = make_scorer(dense, settings) if scorer is None else scorer
        self.validation_: dict[str, float] = {}

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None) -> HybridScorer:
        """Fit the dense part and, unless the weight is given, choose it on held-out products.

        Without a weight the dense part trains on 85 % of the products and the
        weight is chosen on the other 15 % for that very model (one training,
        not two: the blend is measured for the model that is kept).
        """
        if self.weight is not None:
            self.dense.fit(questions, answers, groups)
            return self
        groups = list(groups) if groups is not None else [str(i) for i in range(len(questions))]
        train, held = product_split(groups, (0.85, 0.15), seed=self.seed)
        if len(held) == 0:
            train, held = np.arange(len(questions)), np.arange(len(questions))
        self.dense.fit([questions[i] for i in train], [answers[i] for i in train], [groups[i] for i in train])
        self.choose_weight([questions[i] for i in held], [answers[i] for i in held])
        return self

    def choose_weight(self, questions: Sequence[str], answers: Sequence[str]) -> float:
        """Set the BM25 weight with the best 1-of-100 accuracy on these held-out pairs (dense part fitted)."""
        size = min(100, len({_fold(a) for a in answers}))
        if size < 10:
            self.weight = 0.3
            return self.weight
        cands = candidate_sets(answers, size=size, seed=self.seed)
        documents = self.index(answers)
        # standardised over the whole held-out side, as ``score`` does over the index
        zl = np.take_along_axis(standardise(self.lexical.score(questions, documents.lexical)), cands, axis=1)
        zd = np.take_along_axis(standardise(self.dense.score(questions, documents.dense)), cands, axis=1)
        self.validation_ = {str(w): rank_metrics(w * zl + (1 - w) * zd)["one_of_100_accuracy"] for w in WEIGHTS}
        self.weight = float(max(WEIGHTS, key=lambda w: self.validation_[str(w)]))
        log.info("hybrid weight chosen", weight=self.weight, validation=self.validation_)
        return self.weight

    def index(self, answers: Sequence[str]) -> HybridDocuments:
        """Index the answers for both scorers."""
        return HybridDocuments(self.lexical.index(answers), self.dense.index(answers))

    def score(self, questions: Sequence[str], documents: HybridDocuments) -> np.ndarray:  # type: ignore[override]
        """The weighted sum of both standardised scores."""
        w = 0.3 if self.weight is None else self.weight
        return w * standardise(self.lexical.score(questions, documents.lexical)) + \
            (1 - w) * standardise(self.dense.score(questions, documents.dense))

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The weight, the dense part's kind and its state."""
        dense_parameters, dense_arrays = self.dense.state()
        parameters = {"dense": self.dense_kind, "weight": self.weight, "seed": self.seed,
                      "validation": self.validation_, "dense_parameters": dense_parameters}
        return parameters, dense_arrays

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> HybridScorer:
        """Rebuild from :meth:`state`."""
        from shopintent.assist.retrieval import scorer_from_state

        scorer = cls(parameters["dense"], weight=float(parameters["weight"]), seed=int(parameters["seed"]),
                     settings=settings)
        scorer.dense = scorer_from_state(parameters["dense"], parameters["dense_parameters"], arrays, settings)
        scorer.validation_ = dict(parameters.get("validation", {}))
        return scorer

    def documents_state(self, documents: HybridDocuments) -> dict[str, np.ndarray]:  # type: ignore[override]
        """The dense part's answer vectors (BM25 re-indexes from text)."""
        return self.dense.documents_state(documents.dense)

    def documents_from_state(self, answers: Sequence[str], arrays: dict[str, np.ndarray]) -> HybridDocuments:
        """Both indexes back."""
        return HybridDocuments(self.lexical.index(answers), self.dense.documents_from_state(answers, arrays))
