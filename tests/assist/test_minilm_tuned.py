"""The fine-tuned MiniLM: starts as frozen MiniLM exactly, a few steps move it, the index round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shopintent.assist.confidence import Confidence
from shopintent.assist.datasets import QATable, load_amazon_qa
from shopintent.assist.minilm_tuned import MiniLMTunedScorer
from shopintent.assist.retrieval import QAIndex
from shopintent.settings import Settings
from shopintent.text.encoders import get_encoder


@pytest.fixture(scope="module")
def pairs(session_settings: Settings) -> QATable:
    """24 real Appliances pairs."""
    return load_amazon_qa(session_settings, categories=("Appliances",)).take(range(24))


@pytest.fixture(scope="module")
def untrained(session_settings: Settings) -> MiniLMTunedScorer:
    """One untrained scorer for the tests that do not train (a MiniLM load each costs CPU)."""
    return MiniLMTunedScorer(settings=session_settings)


def test_untrained_scorer_reproduces_frozen_minilm(pairs: QATable, untrained: MiniLMTunedScorer) -> None:
    texts = [t for t in pairs.questions[:4] + pairs.answers[:4] if len(t) < 150]  # under 64 tokens: no cut
    reference = get_encoder("minilm").encode(texts)  # the process-wide frozen MiniLM
    assert len(texts) >= 4 and np.abs(untrained.encode(texts) - reference).max() < 1e-5


def test_remembered_frozen_states_give_the_same_vectors_and_are_forgotten(
        pairs: QATable, untrained: MiniLMTunedScorer) -> None:
    texts = pairs.questions[:3] + pairs.answers[:3]
    fresh = untrained.encode(texts)
    untrained.remember(texts)
    try:
        assert len(untrained._memo) == len(set(texts))
        assert np.abs(untrained.encode(texts) - fresh).max() < 1e-6
    finally:
        untrained.forget()
    assert untrained._memo == {}


def test_steps_move_the_top_layer_keep_the_best_check_and_the_index_round_trips(
        pairs: QATable, session_settings: Settings, tmp_path: Path) -> None:
    scorer = MiniLMTunedScorer(batch_size=8, lr=1e-3, checks_per_epoch=1, settings=session_settings)
    before = scorer.encode(pairs.questions[:2])
    saved: list[str] = []
    scorer.fit(pairs.questions[:16], pairs.answers[:16], max_steps=2,
               validation=(pairs.questions[16:], pairs.answers[16:]),
               checkpoint=lambda _, label: saved.append(label))
    assert saved == ["2"] and len(scorer.history_) == 1 and scorer.history_[0] > 0
    assert set(scorer.validation_) == {"0", "2"} and scorer.chosen_check_ in scorer.validation_
    if scorer.chosen_check_ == "2":
        assert not np.allclose(before, scorer.encode(pairs.questions[:2]))
    index = QAIndex(pairs.questions, pairs.answers, pairs.products, pairs.ids, scorer,
                    scorer.index(pairs.answers), Confidence(), {})
    index.save(tmp_path / "idx")
    again = QAIndex.load(tmp_path / "idx", settings=session_settings)
    assert again.kind == "minilm-tuned"
    first, second = index.ask(pairs.questions[3], k=3), again.ask(pairs.questions[3], k=3)
    assert [a.source_id for a in first[0]] == [a.source_id for a in second[0]]
    assert np.allclose(scorer.encode(pairs.questions[:2]), again.scorer.encode(pairs.questions[:2]), atol=1e-5)


def test_a_state_for_other_layers_is_refused(untrained: MiniLMTunedScorer, session_settings: Settings) -> None:
    parameters, arrays = untrained.state()
    parameters["train_layers"] = 2
    with pytest.raises(ValueError, match="rebuild the index"):
        MiniLMTunedScorer.from_state(parameters, arrays, settings=session_settings)


def test_a_fit_is_cached_by_its_pairs_and_read_back_instead_of_trained_again(
        pairs: QATable, session_settings: Settings, tmp_path: Path) -> None:
    from shopintent.assist.tuned_cache import fit_cached

    settings = session_settings.model_copy(update={"state_dir": tmp_path})
    args = (pairs.questions[:16], pairs.answers[:16], (pairs.questions[16:], pairs.answers[16:]), settings)
    first, run = fit_cached(*args, batch_size=8, lr=1e-3, checks_per_epoch=1)
    again, cached = fit_cached(*args, batch_size=8, lr=1e-3, checks_per_epoch=1)
    assert not run["cached"] and cached["cached"] and cached["key"] == run["key"] and run["train_pairs"] == 16
    assert (tmp_path / "assist" / "minilm-tuned" / run["key"] / "train.lock").is_file()
    assert again.chosen_check_ == first.chosen_check_
    assert np.allclose(first.encode(pairs.questions[:2]), again.encode(pairs.questions[:2]), atol=1e-5)


def test_length_sorted_chunks_give_the_same_vectors_in_the_same_order(
        pairs: QATable, untrained: MiniLMTunedScorer) -> None:
    states = untrained.bottom(pairs.answers[:12] + pairs.questions[:12])
    lengths = {s.shape[0] for s in states}
    assert len(lengths) > 3  # real texts of many lengths, so the chunks really are reordered
    whole = untrained.top(states)
    chunked = untrained.top_sorted(states, chunk=5)
    assert chunked.shape == whole.shape and torch.allclose(whole, chunked, atol=1e-5)
