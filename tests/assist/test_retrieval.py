"""QAIndex and the 1-of-100 protocol on a real AmazonQA slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopintent.assist.datasets import QATable, load_amazon_qa, product_split
from shopintent.assist.lexical import BM25Scorer
from shopintent.assist.protocol import candidate_sets, evaluate, rank_metrics
from shopintent.assist.retrieval import Answer, QAIndex
from shopintent.settings import Settings


@pytest.fixture(scope="module")
def appliances(session_settings: Settings) -> QATable:
    """The first 1,500 Appliances pairs (real questions about ~200 products)."""
    table = load_amazon_qa(session_settings, categories=("Appliances",))
    return table.take(range(1500))


def test_candidate_sets_put_the_true_answer_first_and_never_a_copy_of_it() -> None:
    answers = ["Yes."] * 50 + [f"answer {i}" for i in range(150)]
    sets = candidate_sets(answers, size=100, seed=3)
    assert sets.shape == (200, 100)
    assert (sets[:, 0] == np.arange(200)).all()
    # a "Yes." question never meets another "yes" as a negative
    assert not any(answers[j].lower().strip(".") == "yes" for j in sets[0, 1:])
    assert all(len(set(row)) == 100 for row in sets)


def test_ties_with_the_true_answer_count_against_it() -> None:
    assert rank_metrics(np.zeros((4, 100)))["one_of_100_accuracy"] == 0.0


def test_product_split_keeps_every_product_on_one_side(appliances: QATable) -> None:
    train, test = product_split(appliances.products, (0.8, 0.2), seed=0)
    assert not {appliances.products[i] for i in train} & {appliances.products[i] for i in test}
    assert len(train) + len(test) == len(appliances)
    assert 0.15 < len(test) / len(appliances) < 0.25


def test_bm25_beats_chance_by_far_on_held_out_products(appliances: QATable) -> None:
    _, test = product_split(appliances.products, (0.8, 0.2), seed=0)
    part = appliances.take(test)
    metrics = evaluate(BM25Scorer(), part.questions, part.answers, seed=0)
    # chance is 0.01; BM25 on the full test side measures about 0.4 (bench assist)
    assert metrics["one_of_100_accuracy"] > 0.25
    assert metrics["recall_at_10"] > metrics["recall_at_1"]


def test_qaindex_answers_with_sources_and_round_trips(appliances: QATable, tmp_path: Path) -> None:
    index = QAIndex.build(appliances.questions, appliances.answers, appliances.products,
                          appliances.ids, kind="bm25")
    question = appliances.questions[10]
    answers, confidence = index.ask(question, k=3)
    assert len(answers) == 3 and all(isinstance(a, Answer) for a in answers)
    assert answers[0].score >= answers[1].score >= answers[2].score
    assert 0.0 <= confidence <= 1.0
    index.save(tmp_path / "idx")
    again = QAIndex.load(tmp_path / "idx")
    assert again.ask(question, k=3) == (answers, confidence)


def test_ask_restricts_to_the_product_and_refuses_empty_text(appliances: QATable) -> None:
    index = QAIndex.build(appliances.questions, appliances.answers, appliances.products,
                          appliances.ids, kind="bm25")
    product = appliances.products[0]
    answers, _ = index.ask("does it come with a hose?", product_id=product, k=10)
    own = {i for i, p in zip(appliances.ids, appliances.products, strict=True) if p == product}
    assert answers and {a.source_id for a in answers} <= own
    assert index.ask("   ") == ([], 0.0)
    assert index.ask("🙂🙂🙂")[1] <= 1.0
