"""Score fusion of several question→answer scorers: a weighted sum of per-question standardised scores.

Why: BM25, the frozen English MiniLM and the USE dual encoder fine-tuned on the
shop's pairs make different mistakes (exact part numbers; paraphrase learned
from a billion sentence pairs; what a good answer looks like for this shop), so
a blend of all three ranks better than any one or any pair (measured in
``shopintent bench assist``). Each part's scores are standardised per question
over the indexed answers (BM25 is unbounded, cosines are not) and the weights,
a point of a simplex grid, are chosen on products held out of the trained
part's training by 1-of-100 accuracy, never on the test side.

>>> simplex(3, 0.5)
[(0.0, 0.0, 1.0), (0.0, 0.5, 0.5), (0.0, 1.0, 0.0), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0)]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopintent.assist.datasets import product_split
from shopintent.assist.hybrid import standardise
from shopintent.assist.protocol import _fold, candidate_sets, rank_metrics
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

#: The parts of the default fusion: lexical, frozen English encoder, fine-tuned multilingual dual encoder.
PARTS = ("bm25", "minilm", "dual")
#: Grid step of the weights (they sum to 1).
STEP = 0.1


def simplex(parts: int, step: float = STEP) -> list[tuple[float, ...]]:
    """Every weight vector of ``parts`` non-negative multiples of ``step`` that sum to 1."""
    ticks = round(1 / step)
    return [tuple(round(k * step, 6) for k in combo)
            for combo in itertools.product(range(ticks + 1), repeat=parts) if sum(combo) == ticks]


@dataclass
class FusionDocuments:
    """Each part's index of the same answers."""

    parts: list[Any]

    @property
    def size(self) -> int:
        """How many answers."""
        return int(self.parts[0].size)


class FusionScorer:
    """``Σ w_i · z(score_i)`` over the scorers of ``parts`` (default BM25 + MiniLM + fine-tuned ``dual``)."""

    kind = "fusion"

    def __init__(self, parts: Sequence[str] = PARTS, weights: Sequence[float] | None = None, seed: int = 0,
                 settings: Settings | None = None, scorers: Sequence[Any] | None = None) -> None:
        """``scorers``: the parts' scorers, already built (in ``parts`` order); else fresh ones are made."""
        from shopintent.assist.retrieval import make_scorer

        if len(parts) < 2 or "fusion" in parts:
            raise ValueError(f"a fusion needs at least two scorers other than itself, got {list(parts)}")
        if weights is not None and len(weights) != len(parts):
            raise ValueError(f"{len(parts)} parts need {len(parts)} weights, got {len(weights)}")
        self.part_kinds = list(parts)
        self.weights = None if weights is None else [float(w) for w in weights]
        self.seed = seed
        self.settings = settings
        if scorers is not None and len(scorers) != len(parts):
            raise ValueError(f"{len(parts)} parts need {len(parts)} scorers, got {len(scorers)}")
        self.parts = list(scorers) if scorers is not None else [make_scorer(k, settings) for k in parts]
        self.validation_: dict[str, float] = {}

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None) -> FusionScorer:
        """Fit every part on 85 % of the products and choose the weights on the other 15 % (unless given)."""
        if self.weights is not None:
            for part in self.parts:
                part.fit(questions, answers, groups)
            return self
        groups = list(groups) if groups is not None else [str(i) for i in range(len(questions))]
        train, held = product_split(groups, (0.85, 0.15), seed=self.seed)
        if len(held) == 0:
            train, held = np.arange(len(questions)), np.arange(len(questions))
        for part in self.parts:
            part.fit([questions[i] for i in train], [answers[i] for i in train], [groups[i] for i in train])
        self.choose_weights([questions[i] for i in held], [answers[i] for i in held])
        return self

    def _standardised(self, questions: Sequence[str], documents: FusionDocuments) -> list[np.ndarray]:
        return [standardise(part.score(questions, docs)) for part, docs in zip(self.parts, documents.parts,
                                                                                strict=True)]

    def choose_weights(self, questions: Sequence[str], answers: Sequence[str]) -> list[float]:
        """Set the weights with the best 1-of-100 accuracy on these held-out pairs (parts fitted).

        With fewer than 10 distinct held-out answers the choice would be noise,
        so the parts get equal weights.
        """
        size = min(100, len({_fold(a) for a in answers}))
        if size < 10:
            self.weights = [1 / len(self.parts)] * len(self.parts)
            return self.weights
        cands = candidate_sets(answers, size=size, seed=self.seed)
        # standardised over the whole held-out side, as ``score`` does over the index
        z = [np.take_along_axis(s, cands, axis=1) for s in self._standardised(questions, self.index(answers))]
        found: dict[tuple[float, ...], float] = {}
        for w in simplex(len(self.parts)):
            found[w] = rank_metrics(sum(wi * zi for wi, zi in zip(w, z, strict=True)))["one_of_100_accuracy"]
        best = max(found, key=lambda w: found[w])
        self.validation_ = {",".join(f"{x:g}" for x in w): acc for w, acc in found.items()}
        self.weights = list(best)
        log.info("fusion weights chosen", parts=self.part_kinds, weights=self.weights, accuracy=found[best])
        return self.weights

    def index(self, answers: Sequence[str]) -> FusionDocuments:
        """Index the answers for every part."""
        return FusionDocuments([part.index(answers) for part in self.parts])

    def score(self, questions: Sequence[str], documents: FusionDocuments) -> np.ndarray:  # type: ignore[override]
        """The weighted sum of the parts' standardised scores (parts with weight 0 are not scored)."""
        weights = self.weights or [1 / len(self.parts)] * len(self.parts)
        total = np.zeros((len(questions), documents.size), dtype=np.float64)
        for w, part, docs in zip(weights, self.parts, documents.parts, strict=True):
            if w > 0:
                total += w * standardise(part.score(questions, docs))
        return total

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The weights, and each part's kind and state (arrays prefixed ``<i>.``)."""
        parameters: dict[str, Any] = {"parts": self.part_kinds, "weights": self.weights, "seed": self.seed,
                                      "validation": self.validation_, "part_parameters": []}
        arrays: dict[str, np.ndarray] = {}
        for i, part in enumerate(self.parts):
            p, a = part.state()
            parameters["part_parameters"].append(p)
            arrays.update({f"{i}.{k}": v for k, v in a.items()})
        return parameters, arrays

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> FusionScorer:
        """Rebuild from :meth:`state`."""
        from shopintent.assist.retrieval import scorer_from_state

        kinds = list(parameters["parts"])
        parts = [scorer_from_state(k, p, _prefixed(arrays, i), settings)
                 for i, (k, p) in enumerate(zip(kinds, parameters["part_parameters"], strict=True))]
        scorer = cls(kinds, weights=parameters["weights"], seed=int(parameters["seed"]), settings=settings,
                     scorers=parts)
        scorer.validation_ = dict(parameters.get("validation", {}))
        return scorer

    def documents_state(self, documents: FusionDocuments) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Each part's document arrays, prefixed ``<i>.``."""
        out: dict[str, np.ndarray] = {}
        for i, (part, docs) in enumerate(zip(self.parts, documents.parts, strict=True)):
            out.update({f"{i}.{k}": v for k, v in part.documents_state(docs).items()})
        return out

    def documents_from_state(self, answers: Sequence[str], arrays: dict[str, np.ndarray]) -> FusionDocuments:
        """Every part's index back."""
        return FusionDocuments([part.documents_from_state(answers, _prefixed(arrays, i))
                                for i, part in enumerate(self.parts)])


def _prefixed(arrays: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    prefix = f"{i}."
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
