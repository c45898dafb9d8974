"""The score fusion: weights chosen on held-out products, a one-part weight reduces to that part, state round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from shopintent.assist.datasets import QATable, load_amazon_qa
from shopintent.assist.fusion import FusionScorer, simplex
from shopintent.assist.lexical import BM25Scorer
from shopintent.settings import Settings


@pytest.fixture(scope="module")
def pairs(session_settings: Settings) -> QATable:
    """300 real Appliances pairs (about 40 products)."""
    return load_amazon_qa(session_settings, categories=("Appliances",)).take(range(300))


def test_weights_are_chosen_on_held_out_products_and_sum_to_one(pairs: QATable, session_settings: Settings) -> None:
    fusion = FusionScorer(("bm25", "use"), settings=session_settings).fit(pairs.questions, pairs.answers,
                                                                        pairs.products)
    assert fusion.weights is not None and abs(sum(fusion.weights) - 1) < 1e-9
    assert len(fusion.validation_) == len(simplex(2))
    best = max(fusion.validation_.values())
    assert fusion.validation_[",".join(f"{w:g}" for w in fusion.weights)] == best


def test_all_weight_on_one_part_ranks_like_that_part(pairs: QATable, session_settings: Settings) -> None:
    fusion = FusionScorer(("bm25", "use"), weights=(1.0, 0.0), settings=session_settings)
    docs = fusion.index(pairs.answers[:60])
    fused = fusion.score(pairs.questions[:20], docs)
    alone = BM25Scorer().score(pairs.questions[:20], BM25Scorer().index(pairs.answers[:60]))
    assert (fused.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_state_round_trips_without_re_encoding(pairs: QATable, session_settings: Settings) -> None:
    fusion = FusionScorer(("bm25", "use"), weights=(0.3, 0.7), settings=session_settings)
    docs = fusion.index(pairs.answers[:60])
    parameters, arrays = fusion.state()
    again = FusionScorer.from_state(parameters, arrays, settings=session_settings)
    again_docs = again.documents_from_state(pairs.answers[:60], fusion.documents_state(docs))
    assert again.weights == [0.3, 0.7]
    assert np.allclose(again.score(pairs.questions[:5], again_docs), fusion.score(pairs.questions[:5], docs))


def test_bad_parts_and_weights_are_refused(session_settings: Settings) -> None:
    with pytest.raises(ValueError, match="at least two"):
        FusionScorer(("bm25",), settings=session_settings)
    with pytest.raises(ValueError, match="2 weights"):
        FusionScorer(("bm25", "use"), weights=(1.0,), settings=session_settings)
