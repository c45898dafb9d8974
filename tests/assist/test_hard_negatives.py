"""BM25 hard negatives and their masking: another product's answer, never the question's own, never its text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shopintent.assist.datasets import QATable, load_amazon_qa
from shopintent.assist.hard_negatives import mine_bm25_negatives
from shopintent.assist.minilm_tuned import MiniLMTunedScorer, _pair_keys, batch_mask
from shopintent.assist.protocol import _fold
from shopintent.settings import Settings
from shopintent.text.encoders import _prepare


@pytest.fixture(scope="module")
def pairs(session_settings: Settings) -> QATable:
    """300 real Appliances pairs (several answers per product and per question, many "Yes." answers)."""
    return load_amazon_qa(session_settings, categories=("Appliances",)).take(range(300))


def test_a_hard_negative_is_another_products_answer_never_the_questions_own(pairs: QATable) -> None:
    mined = mine_bm25_negatives(pairs.questions, pairs.answers, pairs.products, top=10, seed=0)
    assert mined.shape == (len(pairs),) and (mined >= 0).mean() > 0.9
    for i, j in enumerate(mined):
        if j < 0:
            continue
        assert pairs.products[j] != pairs.products[i]
        assert _fold(pairs.questions[j]) != _fold(pairs.questions[i])
        assert _fold(pairs.answers[j]) != _fold(pairs.answers[i])
    # the data has what the rules guard against: products with several pairs, repeated answer texts
    assert len(set(pairs.products)) < len(pairs)
    assert len({_fold(a) for a in pairs.answers}) < len(pairs)
    again = mine_bm25_negatives(pairs.questions, pairs.answers, pairs.products, top=10, seed=0)
    assert np.array_equal(mined, again)


def test_the_first_negative_is_the_best_ranked_other_product_answer_with_top_one(pairs: QATable) -> None:
    from shopintent.assist.lexical import BM25Scorer

    mined = mine_bm25_negatives(pairs.questions[:40], pairs.answers[:40], pairs.products[:40], top=1)
    scorer = BM25Scorer()
    scores = scorer.score(pairs.questions[:40], scorer.index(pairs.answers[:40]))
    for i, j in enumerate(mined):
        if j >= 0:
            others = [k for k in range(40) if pairs.products[k] != pairs.products[i]
                      and _fold(pairs.answers[k]) != _fold(pairs.answers[i])
                      and _fold(pairs.questions[k]) != _fold(pairs.questions[i])]
            assert scores[i, j] == max(scores[i, k] for k in others)


def test_a_question_with_no_other_product_gets_no_negative() -> None:
    mined = mine_bm25_negatives(["does it fit?", "is it loud?"], ["yes it fits", "no it is quiet"], ["A", "A"])
    assert mined.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="aligned"):
        mine_bm25_negatives(["q"], ["a", "b"], ["A"])


def test_the_batch_mask_hides_same_text_answers_same_questions_and_a_negative_equal_to_the_answer() -> None:
    questions = ["does it fit?", "Does it fit", "is it loud?", "is it blue?"]
    answers = ["Yes.", "yes", "No, quiet.", "It is red"]
    negatives = ["No, quiet.", None, "yes!", "It is red."]
    mask = batch_mask(_pair_keys(questions, answers, negatives), [0, 1, 2, 3])
    assert mask.shape == (4, 8) and not mask[np.arange(4), np.arange(4)].any()
    assert mask[0, 1] and mask[1, 0]  # same question text, and "Yes." == "yes" folded
    assert not mask[0, 2] and not mask[2, 3]
    assert mask[0, 4 + 2] and mask[1, 4 + 2]  # negative "yes!" is rows 0/1's answer
    assert mask[3, 4 + 3]  # its own negative has its answer's text
    assert mask[2, 4 + 0] and not mask[3, 4 + 0]  # "No, quiet." is row 2's answer: masked for row 2 only


def test_a_fit_with_hard_negatives_trains_and_the_frozen_states_cache_round_trips(
        pairs: QATable, session_settings: Settings, tmp_path: Path) -> None:
    from shopintent.assist.tuned_cache import fit_cached, load_bottom

    settings = session_settings.model_copy(update={"state_dir": tmp_path})
    q, a, p = pairs.questions[:32], pairs.answers[:32], pairs.products[:32]
    mined = mine_bm25_negatives(q, a, p)
    negatives = [a[j] if j >= 0 else None for j in mined]
    scorer, run = fit_cached(q, a, (pairs.questions[32:56], pairs.answers[32:56]), settings, negatives=negatives,
                             batch_size=8, lr=1e-3, checks_per_epoch=1, max_length=128)
    assert run["hard_negatives"] == sum(t is not None for t in negatives) > 0
    assert scorer.history_ and all(np.isfinite(scorer.history_))
    assert len(list((tmp_path / "assist" / "minilm-bottom").glob("*.safetensors"))) == 1
    fresh = MiniLMTunedScorer(max_length=128, settings=settings)
    computed = fresh.bottom(q[:5])
    load_bottom(fresh, q[:5], settings)  # computed and saved
    again = MiniLMTunedScorer(max_length=128, settings=settings)
    load_bottom(again, q[:5], settings)  # read back
    assert all(torch.allclose(x, again._memo[k]) for x, k in zip(computed, _prepare(q[:5]), strict=True))
    with pytest.raises(ValueError, match="one negative"):
        MiniLMTunedScorer(settings=settings).fit(q, a, negatives=negatives[:3])
