"""One batched model pass for the engine's scores gives each session's own scores, bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.behaviour import EventIntentModel, SessionScorer
from shopintent.datasets import taobao_userbehavior_head
from shopintent.intervene.behaviour_scoring import decision_scores
from shopintent.store import sessionise_frame

TEST_DAY = pd.Timestamp("2017-12-03", tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def models_and_sessions(session_settings):  # type: ignore[no-untyped-def]
    """Small models on days before the last (a slice: the test is about equality, not quality),
    and real sessions of the held-out day."""
    events = taobao_userbehavior_head.load(session_settings).events
    train = sessionise_frame(events[events["timestamp"] < TEST_DAY].head(30_000), 30.0)
    models = {}
    for task in ("purchase", "abandon"):
        model = EventIntentModel(task=task, utc_offset_hours=8.0, gap_minutes=30.0, n_estimators=30)
        models[task] = model.fit_table(model.prefix_table(train))
    test = sessionise_frame(events[events["timestamp"] >= TEST_DAY].head(3_000), 30.0)
    return models, test


@pytest.mark.parametrize("n_reasons", [3, 0])  # with the explainer (the service), and without
def test_one_batched_pass_equals_each_session_scored_alone(models_and_sessions, n_reasons) -> None:  # type: ignore[no-untyped-def]
    models, test = models_and_sessions
    scorer = SessionScorer(models, n_reasons=n_reasons)
    states, alone = [], []
    for _, session in test.groupby("session_id", sort=False):
        ordered = session.sort_values("timestamp").to_dict("records")
        # each session whole and cut in half: carts, purchases and empty carts all occur
        for events in (ordered, ordered[: max(len(ordered) // 2, 1)]):
            scorer.reset()  # a fresh feature state per prefix, as the service builds one per session
            for event in events:
                score = scorer.update(event)
            alone.append((score.purchase_probability, score.abandonment_risk))
            states.append(scorer.state)
    batched = decision_scores(scorer, states)
    assert len(batched) == len(alone) > 400
    assert batched == alone  # exact: the same floats, the same Nones
    assert any(p is None for p, _ in alone) and any(a is not None for _, a in alone)
    assert decision_scores(scorer, []) == []

