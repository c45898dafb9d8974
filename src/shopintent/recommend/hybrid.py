"""Hybrid: a weighted blend of several recommenders, the weights learned on validation data.

Scores of different models live on different scales (similarity sums,
logits, counts), so each model's row is standardised (z-score over the
catalogue) before blending. The weights are found by coordinate ascent on
validation NDCG@10 (full ranking) over a small grid per component, starting
from the best single model; the test part is never seen. ``exclude_seen``
must match how the blend will be used (history items ranked or not). Typical gains come
from complementary errors: session kNN is sharp on frequent patterns, the
transformer generalises, content covers cold items, popularity fills gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.log import get_logger
from shopintent.persist import read_json, write_json
from shopintent.recommend.base import Recommender
from shopintent.recommend.data import Example
from shopintent.recommend.evaluate import metrics_from_ranks, ranks_from_scores, top_k_indices
from shopintent.recommend.registry import make_model
from shopintent.recommend.serving import standardise
from shopintent.schema.records import InteractionSequence

log = get_logger(__name__)

#: Per component, how many of its best items enter the weight search.
CANDIDATES = 200

#: Candidate weights tried for each component during coordinate ascent.
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)

#: The components a default hybrid blends (kind, parameters).
DEFAULT_COMPONENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sknn", {}), ("als", {}), ("content", {}), ("pop", {"mode": "recent"}),
)


class Hybrid(Recommender):
    """Blend of component recommenders with weights learned on validation NDCG@10.

    >>> from shopintent.recommend.data import leave_one_out
    >>> from shopintent.samples import taobao_sequences
    >>> sequences, items = taobao_sequences()
    >>> split = leave_one_out(sequences)
    >>> hybrid = Hybrid(components=(("sknn", {}), ("pop", {})), blend_examples=300)
    >>> hybrid = hybrid.fit(split.train, items, valid=split.valid)
    >>> len(hybrid.weights_), len(hybrid.recommend(list(sequences[0].items[:2]), k=3))
    (2, 3)
    """

    kind = "hybrid"

    def __init__(self, components: Sequence[Sequence[Any]] = DEFAULT_COMPONENTS,
                 blend_examples: int = 2000, exclude_seen: bool = True, seed: int = 0) -> None:
        self.components = components
        self.blend_examples = blend_examples
        self.exclude_seen = exclude_seen
        self.seed = seed

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Sequence[Example] | None) -> None:
        catalogue = list(self.index_.ids)
        models = []
        for kind, params in self._components():
            model = make_model(kind, **params)
            models.append(model.fit(sequences, items=self.items_, catalogue=catalogue, valid=valid))
        self.models_ = models
        self.weights_ = self._learn_weights(valid)

    def _components(self) -> list[tuple[str, dict[str, Any]]]:
        """``components`` as ``(kind, parameters)`` pairs (given as tuples, or lists from ``model.json``)."""
        return [(str(kind), dict(params)) for kind, params in self.components]

    @classmethod
    def from_fitted(cls, models: Sequence[Recommender], valid: Sequence[Example],
                    blend_examples: int = 2000, exclude_seen: bool = True, seed: int = 0) -> Hybrid:
        """Blend already-fitted models (same catalogue) with weights learned on ``valid``."""
        if not models:
            raise ValueError("a hybrid needs at least one fitted model")
        first = models[0]
        for model in models[1:]:
            if model.index_.ids != first.index_.ids:
                raise ValueError(f"{model.kind} was fitted on another catalogue than {first.kind}")
        hybrid = cls(components=[(m.kind, m.get_params(deep=False)) for m in models],
                     blend_examples=blend_examples, exclude_seen=exclude_seen, seed=seed)
        hybrid.index_ = first.index_
        hybrid.items_ = getattr(first, "items_", {})
        hybrid.data_checksum_ = first.data_checksum_
        hybrid.metrics_ = {}
        hybrid.fit_seconds_ = sum(getattr(m, "fit_seconds_", 0.0) for m in models)
        hybrid.models_ = list(models)
        hybrid.weights_ = hybrid._learn_weights(valid)
        return hybrid

    def _learn_weights(self, valid: Sequence[Example] | None) -> list[float]:
        n = len(self.models_)
        if not valid:
            log.warning("hybrid has no validation data: equal weights")
            return [1.0] * n
        rng = np.random.default_rng(self.seed)
        pick = rng.choice(len(valid), min(self.blend_examples, len(valid)), replace=False)
        examples = [valid[i] for i in sorted(pick)]
        targets = np.asarray([self.index_.get(ex.target) for ex in examples])
        # Only items some component ranks in its top CANDIDATES can reach a blend's top 10,
        # so the search scores those (and the target) instead of the whole catalogue.
        width = min(CANDIDATES, self.index_.size - 1)
        chunks: list[list[np.ndarray]] = []
        for lo in range(0, len(examples), 256):
            batch = examples[lo : lo + 256]
            histories = [self.index_.encode(ex.history) for ex in batch]
            batch_targets = targets[lo : lo + 256]
            full = []
            for model in self.models_:
                s = standardise(model.score(histories))
                for row, hist in enumerate(histories):
                    if self.exclude_seen and len(hist):
                        s[row, hist] = -np.inf
                full.append(s)
            # Column 0 is the target; then each component's top items. An item listed twice
            # (by two components, or the target again) must compete once: later copies -> -inf.
            candidates = np.concatenate(
                [batch_targets[:, None]] + [top_k_indices(f, width) for f in full], axis=1)
            order = np.argsort(candidates, axis=1, kind="stable")
            ordered = np.take_along_axis(candidates, order, axis=1)
            repeat_sorted = np.zeros(ordered.shape, dtype=bool)
            repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
            repeat = np.zeros_like(repeat_sorted)
            np.put_along_axis(repeat, order, repeat_sorted, axis=1)
            picked = []
            for f in full:
                part = np.take_along_axis(f, candidates, axis=1)
                part[repeat] = -np.inf
                picked.append(part)
            chunks.append(picked)
        parts = [np.concatenate([c[i] for c in chunks]) for i in range(n)]
        target_column = np.zeros(len(examples), dtype=np.int64)

        def quality(weights: Sequence[float]) -> float:
            if not any(weights):
                return -1.0
            blend = sum(w * p for w, p in zip(weights, parts, strict=True) if w)
            blend = np.nan_to_num(np.asarray(blend), nan=-np.inf)
            ranks = ranks_from_scores(np.concatenate([np.full((len(blend), 1), -np.inf), blend], axis=1),
                                      target_column + 1)
            return metrics_from_ranks(ranks, (10,))["NDCG@10"]

        singles = [quality([1.0 if j == i else 0.0 for j in range(n)]) for i in range(n)]
        weights = [1.0 if i == int(np.argmax(singles)) else 0.0 for i in range(n)]
        best = max(singles)
        for _ in range(3):
            improved = False
            for i in range(n):
                for w in WEIGHT_GRID:
                    trial = list(weights)
                    trial[i] = w
                    value = quality(trial)
                    if value > best + 1e-6:
                        best, weights, improved = value, trial, True
            if not improved:
                break
        self.metrics_ = {"blend_valid_NDCG@10": best, "blend_examples": len(examples),
                         "single_valid_NDCG@10": dict(zip([m.kind for m in self.models_], singles, strict=True))}
        log.info("hybrid weights learned", weights=dict(zip([m.kind for m in self.models_], weights, strict=True)),
                 valid_ndcg10=round(best, 4))
        return weights

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        total = np.zeros((len(histories), self.index_.size), dtype=np.float32)
        for weight, model in zip(self.weights_, self.models_, strict=True):
            if weight:
                total += weight * standardise(model.score(histories))
        return total

    def _save_state(self, path: Path) -> None:
        for i, model in enumerate(self.models_):
            model.save(path / f"component_{i}_{model.kind}")  # each with its own manifest too
        write_json(path / "weights.json", self.weights_)

    def _load_state(self, path: Path) -> None:
        self.weights_ = read_json(path / "weights.json")
        self.models_ = [Recommender.load(path / f"component_{i}_{kind}")
                        for i, (kind, _) in enumerate(self._components())]
