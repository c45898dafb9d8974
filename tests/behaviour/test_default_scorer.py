"""The default scorer the HTTP service uses: trained once on Taobao, cached, reloaded."""

from __future__ import annotations

import time

import pytest

from shopintent.behaviour import Score, UserHistory, load_default_scorer
from shopintent.behaviour.default import default_model_dir
from shopintent.schema import Event, EventType

T0 = 1_512_270_000.0  # 2017-12-03 03:00 UTC (11:00 in China)


def _replay(scorer) -> list[Score]:
    return [
        scorer.update({"event_type": "view", "timestamp": T0, "item_id": "i1", "category_id": "c1"}),
        scorer.update({"event_type": "view", "timestamp": T0 + 40, "item_id": "i2", "category_id": "c1"}),
        scorer.update({"event_type": "add_to_cart", "timestamp": T0 + 90, "item_id": "i2",
                       "category_id": "c1"}),
        scorer.update({"event_type": "view", "timestamp": "2017-12-03T03:02:30Z", "item_id": "i2",
                       "category_id": "c1"}),
    ]


def test_default_scorer_trains_once_caches_and_scores_with_reasons(model_settings):
    """The default models were trained once, by the session's `models prepare` run (the same
    ``load_default_models``, tests/conftest.py); every later scorer reloads them from disk."""
    first = _replay(load_default_scorer(model_settings))
    for task in ("purchase", "abandon", "next-action"):
        assert (default_model_dir(model_settings) / task / "model.json").is_file()
    start = time.perf_counter()
    scorer = load_default_scorer(model_settings)
    again = _replay(scorer)
    assert time.perf_counter() - start < 10  # reloaded from disk, not retrained
    assert [s.as_dict() for s in again] == [s.as_dict() for s in first]
    scorer.reset()  # one scorer re-plays another session with a fresh state
    assert [s.as_dict() for s in _replay(scorer)] == [s.as_dict() for s in first]
    assert [s.k for s in first] == [1, 2, 3, 4]
    assert first[0].abandonment_risk is None and first[2].abandonment_risk is not None
    for score in first:
        assert 0.0 < score.purchase_probability < 1.0
        assert set(score.next_action) == {"view", "add_to_cart", "favourite", "purchase"}
        assert len(score.reasons) == 3
    # Carting an item raises the chance of a purchase in the rest of the session.
    assert first[2].purchase_probability > first[1].purchase_probability


def test_scorer_accepts_event_records_and_rejects_out_of_order_or_naive_times(model_settings):
    from datetime import UTC, datetime

    scorer = load_default_scorer(model_settings, history=UserHistory())
    when = datetime(2017, 12, 3, 2, 0, tzinfo=UTC)
    score = scorer.update(Event(user_id="u", timestamp=when, event_type=EventType.VIEW, item_id="1"))
    assert score.k == 1
    with pytest.raises(ValueError, match="time order"):
        scorer.update({"event_type": "view", "timestamp": "2017-12-03T01:00:00Z"})
    with pytest.raises(ValueError, match="time zone"):
        scorer.update({"event_type": "view", "timestamp": datetime(2017, 12, 3, 3, 0)})
    with pytest.raises(ValueError, match="needs `event_type` and `timestamp`"):
        scorer.update({"item_id": "1"})
