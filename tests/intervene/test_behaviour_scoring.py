"""The trained behaviour models as the engine's scorer: held-out signal on real Taobao events."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.behaviour import EventIntentModel
from shopintent.datasets import taobao_userbehavior_head
from shopintent.intervene import DecisionEngine, read_decisions
from shopintent.intervene.behaviour_scoring import BehaviourDecisionScorer
from shopintent.intervene.replay import replay_events
from shopintent.intervene.scoring import SessionCounts
from shopintent.store import sessionise_frame

TEST_DAY = pd.Timestamp("2017-12-03", tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def split(session_settings):  # type: ignore[no-untyped-def]
    """Models trained on the days before the last; the last day's events held out."""
    events = taobao_userbehavior_head.load(session_settings).events
    train = events[events["timestamp"] < TEST_DAY]
    sessions = sessionise_frame(train, 30.0)
    models = {}
    for task in ("purchase", "abandon"):
        model = EventIntentModel(task=task, utc_offset_hours=8.0, gap_minutes=30.0)
        models[task] = model.fit_table(model.prefix_table(sessions))
    return models, events[events["timestamp"] >= TEST_DAY].reset_index(drop=True)


def test_behaviour_scorer_beats_the_heuristic_on_the_held_out_day(split, tmp_path) -> None:  # type: ignore[no-untyped-def]
    models, test = split
    aucs = {}
    for name, scorer in (("heuristic", None), ("behaviour", BehaviourDecisionScorer(models))):
        engine = DecisionEngine(log_path=tmp_path / f"{name}.jsonl", random_state=0)
        report = replay_events(test, engine, scorer=scorer)
        engine.close()
        aucs[name] = report.scorer_auc
        logged = read_decisions(tmp_path / f"{name}.jsonl")
        assert len(logged) == report.n_decisions > 1000
        assert ((logged["propensity"] > 0) & (logged["propensity"] <= 1)).all()
    # Measured 0.63 vs 0.49 on this split (seed 0); the margin leaves room for library drift.
    assert aucs["behaviour"] > 0.58
    assert aucs["behaviour"] > aucs["heuristic"] + 0.05


def test_scores_follow_the_session_and_need_observed_events(split) -> None:  # type: ignore[no-untyped-def]
    models, _ = split
    scorer = BehaviourDecisionScorer(models)
    state = SessionCounts(user_id="u1", session_id="u1:1")
    with pytest.raises(KeyError, match="no observed events"):
        scorer.score(state)
    t0 = TEST_DAY.timestamp()
    for offset, kind in enumerate(["view", "view", "add_to_cart"]):
        state.update(kind, "i1", t0 + 60 * offset)
        scorer.observe(state, kind, "i1", "c1", t0 + 60 * offset)
    carted = scorer.score(state)
    assert 0.0 < carted.purchase_probability < 1.0
    assert 0.0 < carted.abandonment_risk < 1.0
    state.update("purchase", "i1", t0 + 300)
    scorer.observe(state, "purchase", "i1", "c1", t0 + 300)
    assert scorer.score(state).purchase_probability == 1.0
