"""Adapters: a model that is missing is reported with its reason; a real recommender is wired."""

from __future__ import annotations

import time

from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable
from shopintent.serve.adapters.recommend import recommend_items


def test_slot_reports_the_reason_and_retries_later() -> None:
    calls = []

    def loader():  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise ModelUnavailable("m", "package not installed")
        return object(), {"version": "2"}

    slot = ModelSlot("m", loader, retry_after_s=0.05)
    assert not slot.load()
    try:
        slot.get()
    except ModelUnavailable as exc:
        assert exc.reason == "package not installed"
    assert not slot.due()
    time.sleep(0.06)
    assert slot.due() and slot.load() and slot.status() == {"name": "m", "ready": True, "version": "2"}


def test_recommendations_come_from_a_recommender_fitted_on_real_sequences(settings) -> None:  # type: ignore[no-untyped-def]
    from shopintent.recommend.sknn import SessionKNN
    from shopintent.schema.records import InteractionSequence
    from shopintent.store import sessionise_frame
    from shopintent.datasets import taobao_userbehavior_head as taobao

    events = sessionise_frame(taobao.load(settings).events.head(20000), settings.session_gap_minutes)
    sequences = [InteractionSequence(str(sid), tuple(group["item_id"].astype(str)))
                 for sid, group in events.groupby("session_id", sort=False) if len(group) >= 2]
    model = SessionKNN().fit(sequences)
    slot = ModelSlot("recommend", lambda: (model, {"version": "sknn"}))
    assert slot.load()
    history = list(sequences[0].items[:3])
    items = recommend_items(slot, history, k=5)
    assert 0 < len(items) <= 5 and all(set(i) == {"item_id", "score"} for i in items)
    assert not set(i["item_id"] for i in items) & set(history)
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
