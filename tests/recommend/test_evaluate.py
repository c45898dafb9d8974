"""The full-ranking evaluator against hand-computed values, and the leave-one-out split on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopintent.datasets import amazon_seqrec
from shopintent.recommend.data import Example, ItemIndex, leave_one_out
from shopintent.recommend.evaluate import (
    evaluate_scores,
    metrics_from_ranks,
    ranks_from_scores,
    short_head,
)
from shopintent.schema.records import InteractionSequence


def test_ranks_count_ties_against_the_target() -> None:
    # Column 0 is padding. Row 0: target 2 scores 0.5, item 1 beats it, item 3 ties -> rank 2.
    scores = np.array([[-np.inf, 0.9, 0.5, 0.5, 0.1],
                       [-np.inf, 0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    assert ranks_from_scores(scores, np.array([2, 4])).tolist() == [2, 0]


def test_unknown_or_excluded_target_is_a_miss() -> None:
    scores = np.array([[-np.inf, 0.9, -np.inf, 0.5]], dtype=np.float32)
    assert ranks_from_scores(scores, np.array([2])).tolist() == [3]
    assert ranks_from_scores(scores, np.array([0])).tolist() == [3]


def test_metrics_match_hand_computed_values() -> None:
    ranks = np.array([0, 3, 12, 40])
    m = metrics_from_ranks(ranks, ks=(10, 20))
    assert m["HR@10"] == pytest.approx(2 / 4)
    assert m["HR@20"] == pytest.approx(3 / 4)
    assert m["NDCG@10"] == pytest.approx((1.0 + 1 / math.log2(5)) / 4)
    assert m["NDCG@20"] == pytest.approx((1.0 + 1 / math.log2(5) + 1 / math.log2(14)) / 4)
    assert m["MRR@20"] == pytest.approx((1.0 + 1 / 4 + 1 / 13) / 4)


def test_evaluate_scores_on_a_tiny_catalogue_with_exclusion() -> None:
    index = ItemIndex(["a", "b", "c", "d", "e"])
    fixed = np.array([-np.inf, 5.0, 4.0, 3.0, 2.0, 1.0], dtype=np.float32)  # a > b > c > d > e

    def score(histories):  # type: ignore[no-untyped-def]
        return np.tile(fixed, (len(histories), 1))

    examples = [
        Example("u1", ("a",), "b"),  # a excluded -> b is first: rank 0
        Example("u2", ("b", "c"), "e"),  # a, d ahead -> rank 2
        Example("u3", ("a",), "a"),  # target already seen and excluded -> miss
        Example("u4", (), "zz"),  # not in the catalogue -> miss
    ]
    popularity = np.array([0, 10, 5, 1, 1, 1], dtype=np.float64)
    result = evaluate_scores(score, examples, index, popularity, ks=(1, 3), list_k=2)
    assert result.ranks.tolist() == [0, 2, 5, 5]
    assert result.metrics["HR@1"] == pytest.approx(0.25)
    assert result.metrics["HR@3"] == pytest.approx(0.5)
    assert result.metrics["NDCG@3"] == pytest.approx((1.0 + 0.5) / 4)
    assert result.metrics["MRR@3"] == pytest.approx((1.0 + 1 / 3) / 4)
    assert result.targets_outside_catalogue == 1
    # Top-2 lists: u1 {b, c}, u2 {a, d}, u3 {b, c}, u4 {a, b} -> 4 of 5 items covered.
    assert result.metrics["coverage@2"] == pytest.approx(4 / 5)
    # ARP: mean training popularity of the 8 recommended slots (a=10, b=5, c=d=e=1):
    # b,c | a,d | b,c | a,b -> (5+1 + 10+1 + 5+1 + 10+5) / 8
    assert result.metrics["ARP@2"] == pytest.approx(38 / 8)
    without = evaluate_scores(score, examples, index, ks=(1,), exclude_seen=False)
    assert without.ranks.tolist() == [1, 4, 0, 5]


def test_short_head_holds_the_top_fifth_of_interactions() -> None:
    popularity = np.array([0.0, 50.0, 30.0, 10.0, 10.0])
    assert short_head(popularity).tolist() == [False, True, False, False, False]


def test_leave_one_out_on_a_tiny_example() -> None:
    split = leave_one_out([InteractionSequence("u", ("a", "b", "c", "d")),
                           InteractionSequence("v", ("x", "y"))])
    assert split.train[0].items == ("a", "b")
    assert split.valid == [Example("u", ("a", "b"), "c")]
    assert split.test == [Example("u", ("a", "b", "c"), "d")]
    assert split.dropped_short == 1
    assert split.catalogue == ["a", "b", "c", "d", "x", "y"]


def test_no_test_or_validation_position_is_in_training_on_beauty(settings) -> None:  # type: ignore[no-untyped-def]
    sequences = amazon_seqrec.read_sequences("Beauty", settings)
    split = leave_one_out(sequences)
    assert len(split.test) == len(split.valid) == 22_363
    train_by_user = {s.user_id: s.items for s in split.train}
    full_by_user = {s.user_id: s.items for s in sequences}
    assert sum(len(s.items) for s in split.train) == 198_502 - 2 * 22_363
    once_only_checked = 0
    for example in split.test:
        full = full_by_user[example.user_id]
        assert train_by_user[example.user_id] == full[:-2]
        assert example.history == full[:-1] and example.target == full[-1]
        if full.count(example.target) == 1:
            assert example.target not in train_by_user[example.user_id]
            once_only_checked += 1
    assert once_only_checked > 22_000
    assert len(split.catalogue) == 12_101
