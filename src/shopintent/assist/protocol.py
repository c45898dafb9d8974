"""The 1-of-100 response-selection protocol (conversational-datasets, AmazonQA): accuracy, MRR, recall@k.

For each test question its true answer is ranked against 99 answers drawn at
random from the same test side; the metrics are 1-of-100 accuracy (true answer
ranked first), mean reciprocal rank and recall@k. Two honest choices, both
pinned by tests: a negative whose text equals the true answer's (after case
and space folding: "Yes." twice) is not drawn, since it would be a correct
answer counted wrong; and a tie with the true answer counts against it, so a
scorer that returns all zeros gets 0, not 1.

>>> scores = np.array([[3.0, 1.0, 2.0], [0.5, 0.9, 0.1]])   # column 0 = the true answer
>>> m = rank_metrics(scores, ks=(1, 2))
>>> (m["one_of_100_accuracy"], m["mrr"], m["recall_at_2"])
(0.5, 0.75, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopintent.assist.scorer import Scorer

CANDIDATES = 100
KS = (1, 3, 5, 10)


def _fold(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!")


def candidate_sets(answers: Sequence[str], size: int = CANDIDATES, seed: int = 0) -> np.ndarray:
    """``(n, size)`` answer indices per question: column 0 its own answer, then ``size - 1`` random others.

    Raises ``ValueError`` when fewer than ``size`` distinct answers exist.
    """
    folded = [_fold(a) for a in answers]
    n = len(answers)
    if len(set(folded)) < size:
        raise ValueError(f"the 1-of-{size} protocol needs at least {size} distinct answers "
                         f"on the test side, found {len(set(folded))}")
    rng = np.random.default_rng(seed)
    out = np.empty((n, size), dtype=np.int64)
    for i in range(n):
        chosen: list[int] = []
        seen = {folded[i]}
        while len(chosen) < size - 1:
            for j in rng.integers(0, n, size=2 * size):
                if folded[j] not in seen:
                    seen.add(folded[j])
                    chosen.append(int(j))
                    if len(chosen) == size - 1:
                        break
        out[i, 0] = i
        out[i, 1:] = chosen
    return out


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of column 0 in each row; ties count against it."""
    return 1 + (scores[:, 1:] >= scores[:, :1]).sum(axis=1)


def rank_metrics(scores: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """Metrics of a ``(n, candidates)`` score matrix whose column 0 is the true answer."""
    r = ranks(scores)
    out = {"one_of_100_accuracy": float((r == 1).mean()), "mrr": float((1.0 / r).mean())}
    for k in ks:
        out[f"recall_at_{k}"] = float((r <= k).mean())
    return out


def candidate_scores(scorer: Scorer, questions: Sequence[str], answers: Sequence[str],
                     candidates: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Score each question against its candidate answers: ``(n, candidates)``.

    Every test answer is indexed once (BM25's IDF and the dense vectors come
    from the whole test side); questions are scored in chunks to bound memory.
    """
    documents = scorer.index(list(answers))
    out = np.empty(candidates.shape, dtype=np.float32)
    for start in range(0, len(questions), chunk):
        stop = min(start + chunk, len(questions))
        full = scorer.score(list(questions[start:stop]), documents)
        out[start:stop] = np.take_along_axis(full, candidates[start:stop], axis=1)
    return out


def evaluate(scorer: Scorer, questions: Sequence[str], answers: Sequence[str],
             seed: int = 0) -> dict[str, Any]:
    """1-of-100 metrics of a fitted scorer on aligned test questions/answers."""
    candidates = candidate_sets(answers, seed=seed)
    scores = candidate_scores(scorer, questions, answers, candidates)
    return {**rank_metrics(scores), "questions": len(questions), "candidates": CANDIDATES,
            "seed": seed}
