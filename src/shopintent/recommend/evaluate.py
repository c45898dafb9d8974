"""Full-ranking evaluation: every target is ranked against the whole catalogue.

Sampled negatives inflate and reorder results (Krichene & Rendle, KDD 2020),
so no metric here samples. A target's rank is *pessimistic*: the number of
other items scored at least as high, so a model that gives many items the
same score (popularity, kNN with few neighbours) cannot win by tie order.
With ``exclude_seen`` the history's items are removed from the ranking
before the target is placed, as the S3-Rec/ICLRec full-ranking code does; a
target already in the history then counts as a miss.

Besides HR@k, NDCG@k and MRR@k the evaluator reports catalogue coverage (the
share of items that appear in any top-10 list) and popularity bias: the
average training popularity of recommended items (ARP) and the share of
them from the short head (the most popular items holding 20% of
interactions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopintent.recommend.data import Example, ItemIndex

#: Cut-offs reported by default.
DEFAULT_KS: tuple[int, ...] = (10, 20)


def ranks_from_scores(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based pessimistic rank of each target in its row (column 0 = padding, never ranked).

    A target with index 0 (not in the catalogue) or score ``-inf`` (excluded)
    gets rank ``n_items`` — a miss at any cut-off.
    """
    n_items = scores.shape[1] - 1
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets]
    at_least = (scores[:, 1:] >= target_scores[:, None]).sum(axis=1) - 1
    ranks = np.where((targets == 0) | ~np.isfinite(target_scores), n_items, at_least)
    return ranks.astype(np.int64)


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` highest scores (unordered).

    ``torch.topk`` when torch is installed: numpy's row-wise argpartition is
    an order of magnitude slower on catalogue-wide rows.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - the recommend extra installs torch
        return np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return torch.from_numpy(np.ascontiguousarray(scores)).topk(k, dim=1).indices.numpy()


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """HR@k, NDCG@k (one relevant item: 1/log2(rank+2)) and MRR@max(k) from 0-based ranks."""
    out: dict[str, float] = {}
    ranks = np.asarray(ranks)
    for k in ks:
        hit = ranks < k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean())
    top = max(ks)
    out[f"MRR@{top}"] = float(np.where(ranks < top, 1.0 / (ranks + 1.0), 0.0).mean())
    return out


def short_head(popularity: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Boolean mask of the most popular items that together hold ``share`` of interactions."""
    order = np.argsort(-popularity, kind="stable")
    cumulative = np.cumsum(popularity[order])
    total = cumulative[-1] if len(cumulative) else 0.0
    mask = np.zeros(len(popularity), dtype=bool)
    if total > 0:
        n_head = int(np.searchsorted(cumulative, share * total) + 1)
        mask[order[:n_head]] = True
    return mask


@dataclass
class Evaluation:
    """Metrics of one model on one set of examples, with the per-example ranks behind them."""

    metrics: dict[str, float]
    ranks: np.ndarray
    n_examples: int
    n_items: int
    exclude_seen: bool
    targets_outside_catalogue: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics, "examples": self.n_examples, "items": self.n_items,
                "exclude_seen": self.exclude_seen,
                "targets_outside_catalogue": self.targets_outside_catalogue, **self.extra}


ScoreFn = Callable[[Sequence[np.ndarray]], np.ndarray]


def evaluate_scores(
    score: ScoreFn,
    examples: Sequence[Example],
    index: ItemIndex,
    train_popularity: np.ndarray | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    exclude_seen: bool = True,
    batch_size: int = 512,
    list_k: int = 10,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Rank every example's target among all ``index`` items under ``score`` and summarise.

    ``score`` maps encoded histories to an ``(n, len(index) + 1)`` array (a
    model's :meth:`~shopintent.recommend.base.Recommender.score`).
    ``train_popularity`` (interactions per item index in the training part)
    enables the popularity-bias metrics.
    """
    if not examples:
        raise ValueError("no examples to evaluate")
    list_k = min(list_k, len(index))
    ranks_all: list[np.ndarray] = []
    recommended = np.zeros(index.size, dtype=np.int64)
    outside = 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        histories = [index.encode(ex.history) for ex in batch]
        targets = np.asarray([index.get(ex.target) for ex in batch], dtype=np.int64)
        outside += int((targets == 0).sum())
        scores = np.array(score(histories), dtype=np.float32, copy=True)
        if scores.shape != (len(batch), index.size):
            raise ValueError(f"score returned shape {scores.shape}, expected {(len(batch), index.size)}")
        scores[:, 0] = -np.inf
        if exclude_seen:
            for row, hist in enumerate(histories):
                if len(hist):
                    scores[row, hist] = -np.inf
        ranks_all.append(ranks_from_scores(scores, targets))
        top = top_k_indices(scores, list_k)
        np.add.at(recommended, top.ravel(), 1)
        if progress is not None:
            progress(len(batch))
    ranks = np.concatenate(ranks_all)
    metrics = metrics_from_ranks(ranks, ks)
    recommended[0] = 0
    metrics[f"coverage@{list_k}"] = float((recommended[1:] > 0).sum() / max(len(index), 1))
    if train_popularity is not None:
        n_lists = recommended.sum()
        metrics[f"ARP@{list_k}"] = float((recommended * train_popularity).sum() / max(n_lists, 1))
        head = short_head(train_popularity)
        metrics[f"short_head_share@{list_k}"] = float(recommended[head].sum() / max(n_lists, 1))
    return Evaluation(metrics=metrics, ranks=ranks, n_examples=len(examples), n_items=len(index),
                      exclude_seen=exclude_seen, targets_outside_catalogue=outside)


def item_popularity(encoded_train: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Interactions per item index in the training sequences."""
    counts = np.zeros(size, dtype=np.float64)
    for seq in encoded_train:
        np.add.at(counts, seq, 1.0)
    counts[0] = 0.0
    return counts


def evaluate(model: Any, examples: Sequence[Example], train_sequences: Sequence[Any] | None = None,
             **kwargs: Any) -> Evaluation:
    """Evaluate a fitted recommender on ``examples`` (full ranking over its catalogue).

    Passing ``train_sequences`` adds the popularity-bias metrics.
    """
    popularity = None
    if train_sequences is not None:
        popularity = item_popularity([model.index_.encode(s.items) for s in train_sequences],
                                     model.index_.size)
    return evaluate_scores(model.score, examples, model.index_, popularity, **kwargs)
