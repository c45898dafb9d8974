"""The fine-tuned dual encoder: starts as USE exactly, one training step moves it, and it round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopintent.assist.confidence import Confidence
from shopintent.assist.datasets import QATable, load_amazon_qa
from shopintent.assist.dual_encoder import DualEncoderScorer
from shopintent.assist.hybrid import HybridScorer
from shopintent.assist.retrieval import QAIndex
from shopintent.settings import Settings
from shopintent.text.encoders import get_encoder


@pytest.fixture(scope="module")
def pairs(session_settings: Settings) -> QATable:
    """48 real Appliances pairs."""
    return load_amazon_qa(session_settings, categories=("Appliances",)).take(range(48))


def test_untrained_towers_reproduce_use_multilingual(session_settings: Settings) -> None:
    texts = ["我要退货", "where is my order", "Does this filter fit a Kenmore 9030?"]
    towers = DualEncoderScorer(settings=session_settings)
    reference = get_encoder("use").encode(texts)
    cosine = (towers.encode_questions(texts) * reference).sum(axis=1)
    assert cosine.min() > 0.9999


def test_one_step_changes_the_towers_and_the_index_round_trips(
        pairs: QATable, session_settings: Settings, tmp_path: Path) -> None:
    scorer = DualEncoderScorer(batch_size=16, lr=1e-3, settings=session_settings)
    before = scorer.encode_questions(pairs.questions[:4])
    scorer.fit(pairs.questions, pairs.answers, max_steps=1)
    assert len(scorer.history_) == 1 and scorer.history_[0] > 0
    assert not np.allclose(before, scorer.encode_questions(pairs.questions[:4]))
    hybrid = HybridScorer(weight=0.3, settings=session_settings)
    hybrid.dense = scorer
    documents = hybrid.index(pairs.answers)
    index = QAIndex(pairs.questions, pairs.answers, pairs.products, pairs.ids, hybrid, documents,
                    Confidence(), {})
    index.save(tmp_path / "idx")
    again = QAIndex.load(tmp_path / "idx", settings=session_settings)
    question = pairs.questions[5]
    first, second = index.ask(question, k=3), again.ask(question, k=3)
    assert [a.source_id for a in first[0]] == [a.source_id for a in second[0]]
    assert np.allclose([a.score for a in first[0]], [a.score for a in second[0]], atol=1e-5)
