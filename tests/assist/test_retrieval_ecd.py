"""Chinese response selection on the ECD sample and selective answering, pinned on real rows."""

from __future__ import annotations

import numpy as np

from shopintent.assist.lexical import BM25Scorer
from shopintent.assist.response_selection import chat_scores, choose_turns, load_chats, recall_at
from shopintent.assist.selective import accuracy_coverage, clinc_out_of_scope
from shopintent.settings import Settings


def test_bm25_on_ecd_reads_the_context_the_training_chats_choose(session_settings: Settings) -> None:
    test, train = load_chats("test", session_settings), load_chats("train", session_settings)
    scorer = BM25Scorer()
    turns, on_train = choose_turns(scorer, train)
    assert turns == 0 and on_train["0"] > on_train["1"]
    found = recall_at(chat_scores(scorer, test, turns))
    # ECD's negatives share words with the context: word overlap is near chance (0.1) on the test chats
    assert found["r10_at_1"] < 0.2 and found["r10_at_1"] <= found["r10_at_2"] <= found["r10_at_5"]


def test_a_confidence_that_knows_nothing_leaves_accuracy_flat(session_settings: Settings) -> None:
    rng = np.random.default_rng(0)
    correct = rng.random(2000) < 0.4
    flat = accuracy_coverage(rng.random(2000), correct)
    informed = accuracy_coverage(correct + rng.random(2000) * 0.5, correct)
    assert abs(flat["area"] - 0.4) < 0.05
    assert informed["accuracy_at_coverage"]["0.3"] == 1.0 and informed["area"] > 0.7  # 0.4 + 0.4 ln(1/0.4) for a perfect ranking
    assert len(clinc_out_of_scope(session_settings)) == 1000


def test_next_turn_chats_come_from_training_contexts_only(session_settings: Settings) -> None:
    from shopintent.assist.ecd_ranker import next_turn_chats

    train = load_chats("train", session_settings)
    examples = next_turn_chats(train, near="mixed", seed=0)
    # every shop turn inside a training context (odd positions), never the published reply
    assert len(examples) == sum(len(c.context) // 2 for c in train)
    assert all(len(e.candidates) == 10 and len(set(e.candidates)) == 10 for e in examples)
    published = {c.candidates[0] for c in train} - {t for c in train for t in c.context}
    assert not published & {e.candidates[0] for e in examples}
    checked = 0
    for e in examples:
        mine = [c for c in train if c.context[: len(e.context)] == e.context]
        assert e.candidates[0] not in e.candidates[1:]
        if len(mine) == 1:  # a context only one chat starts with: no negative is a shop turn of that chat
            assert not set(e.candidates[1:]) & set(mine[0].context[1::2])
            checked += 1
    assert checked > len(examples) // 2
