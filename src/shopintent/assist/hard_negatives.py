"""BM25-mined hard negatives for dual-encoder training: another product's answer that shares the question's words.

Why: in-batch negatives are random answers, most of them about another kind of
product, so the encoder learns the topic and stops there. An answer that
BM25 ranks high for the question but that belongs to a different product is
a near miss ("the filter fits the 2010 model" for a question about a 2012
model's filter) and teaches the finer distinction the 1-of-100 protocol asks
for. Rules, each pinned by ``tests/assist/test_hard_negatives.py``:

* never an answer of the same product (it may well answer the question too),
* never an answer of the same question text (the question's own answers),
* never an answer whose text equals the question's own answer (after folding
  case and end punctuation: "Yes." against "yes"), which would be a false
  negative;
* drawn at random (seeded) among the ``top`` best-ranked answers that pass,
  not always the first, which is the one most likely to be a paraphrase of
  the true answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopintent.assist.lexical import BM25Scorer
from shopintent.assist.protocol import _fold
from shopintent.log import get_logger

log = get_logger(__name__)

#: Questions scored against the whole answer side per chunk (a chunk's score matrix is ``CHUNK x n`` floats).
CHUNK = 512


def mine_bm25_negatives(questions: Sequence[str], answers: Sequence[str], products: Sequence[str],
                        top: int = 10, seed: int = 0) -> np.ndarray:
    """Per pair, the row index of a hard-negative answer (rules in the module docstring); -1 where none passes.

    ``questions``, ``answers`` and ``products`` are aligned training pairs; the
    negatives are drawn from the same ``answers``, so a caller indexes
    ``answers[negative[i]]``.
    """
    n = len(questions)
    if not (len(answers) == len(products) == n):
        raise ValueError(f"need aligned pairs: {n} questions, {len(answers)} answers, {len(products)} products")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    rng = np.random.default_rng(seed)
    folded_answers = np.asarray([_fold(a) for a in answers], dtype=object)
    folded_questions = np.asarray([_fold(q) for q in questions], dtype=object)
    product_array = np.asarray(products, dtype=object)
    scorer = BM25Scorer()
    documents = scorer.index(answers)
    out = np.full(n, -1, dtype=np.int64)
    for start in range(0, n, CHUNK):
        rows = np.arange(start, min(n, start + CHUNK))
        scores = scorer.score([questions[i] for i in rows], documents)
        # look a little deeper than ``top``: some of the best-ranked are excluded below
        depth = min(n, top * 4 + 16)
        best = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        for row, i in enumerate(rows):
            ranked = best[row][np.argsort(-scores[row, best[row]], kind="stable")]
            ok = [int(j) for j in ranked
                  if scores[row, j] > 0 and product_array[j] != product_array[i]
                  and folded_questions[j] != folded_questions[i] and folded_answers[j] != folded_answers[i]]
            if ok:
                out[i] = ok[int(rng.integers(0, min(top, len(ok))))]
        log.info("bm25 hard negatives", done=int(rows[-1]) + 1, of=n)
    log.info("bm25 hard negatives mined", pairs=n, without=int((out < 0).sum()), top=top)
    return out
