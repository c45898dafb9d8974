"""``assist eval`` on any Q&A file: product-disjoint split, fit on one side, 1-of-100 on the other.

Why: a shop brings its own FAQ or Q&A export and wants to know, before
switching the assistant on, how often the right answer comes first. The split
keeps every product on one side (rows without a product are their own group),
so the number is for questions about products the model never saw.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from shopintent.assist.datasets import QATable, load_qa_file, product_split
from shopintent.assist.protocol import CANDIDATES, _fold, candidate_scores, candidate_sets, rank_metrics
from shopintent.assist.retrieval import make_scorer
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

TEST_SHARE = 0.2
#: Bad rows listed by name in the output (all are counted).
BAD_ROWS_SHOWN = 20


def bad_rows_summary(table: QATable) -> dict[str, Any]:
    """How many rows were bad, and the first :data:`BAD_ROWS_SHOWN` of them by place and reason."""
    return {"bad_rows": len(table.bad_rows),
            "bad_rows_listed": [{"where": w, "reason": r} for w, r in table.bad_rows[:BAD_ROWS_SHOWN]]}


def evaluate_table(table: QATable, kind: str = "hybrid", seed: int = 0,
                   settings: Settings | None = None) -> dict[str, Any]:
    """Split ``table`` by product, fit a ``kind`` scorer on 80 %, rank each test answer among 100."""
    train, test = product_split(table.products, (1 - TEST_SHARE, TEST_SHARE), seed=seed)
    if len(test) == 0 or len(train) == 0:
        raise ValueError(f"need at least two products (or rows) to split; got {len(set(table.products))}")
    tr, te = table.take(train), table.take(test)
    size = min(CANDIDATES, len({_fold(a) for a in te.answers}))
    if size < 2:
        raise ValueError(f"the test side has {size} distinct answer(s); at least 2 are needed to rank")
    started = time.perf_counter()
    scorer = make_scorer(kind, settings).fit(tr.questions, tr.answers, tr.products)
    fitted = time.perf_counter()
    cands = candidate_sets(te.answers, size=size, seed=seed)
    metrics = rank_metrics(candidate_scores(scorer, te.questions, te.answers, cands))
    return {
        **metrics,
        "kind": kind,
        "seed": seed,
        "candidates": size,
        "split": "product-disjoint",
        "train_rows": len(tr),
        "test_rows": len(te),
        "train_products": len(set(tr.products)),
        "test_products": len(set(te.products)),
        "fit_seconds": round(fitted - started, 2),
        "score_seconds": round(time.perf_counter() - fitted, 2),
        "note": None if size == CANDIDATES else
        f"only {size} distinct answers on the test side: each answer is ranked among {size}, not 100",
    }


def evaluate_file(path: Path | str, question_col: str = "question", answer_col: str = "answer",
                  product_col: str | None = "product_id", kind: str = "hybrid", seed: int = 0,
                  settings: Settings | None = None) -> dict[str, Any]:
    """Read a CSV/TSV/JSONL Q&A file and run :func:`evaluate_table`; bad rows are counted and named."""
    table = load_qa_file(path, question_col, answer_col, product_col)
    result = evaluate_table(table, kind=kind, seed=seed, settings=settings)
    result.update({
        "file": str(path),
        "sha256": table.sources[0]["sha256"],
        "rows": len(table),
        **bad_rows_summary(table),
    })
    return result
