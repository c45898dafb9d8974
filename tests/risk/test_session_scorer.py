"""The live session risk scorer equals the detector it was taken from, on real Taobao sessions.

The service scores sessions with :class:`SessionRiskScorer` (the forest's node arrays, no
pickle); these tests pin that its scores are the Isolation Forest's own, that live session
state fed through :func:`live_session_frame` gives the training features, and that a save/load
round trip changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.risk.anomaly import AnomalyDetector, session_features, sessionise
from shopintent.risk.session_scorer import SessionRiskScorer, live_session_frame
from shopintent.settings import Settings


def test_array_scores_equal_the_isolation_forest_on_every_real_session(settings: Settings, tmp_path: Path) -> None:
    events = taobao.load(settings).events
    X = session_features(events)
    detector = AnomalyDetector(n_estimators=60, random_state=0).fit(X)
    scorer = SessionRiskScorer.from_detector(detector, X)
    np.testing.assert_allclose(scorer.scores(X), detector.score(X), rtol=0, atol=1e-12)
    # actions as shares of the training sessions: 1 % held or blocked, 0.1 % blocked
    actions = pd.Series([scorer.thresholds.action(s) for s in scorer.scores(X)]).value_counts(normalize=True)
    assert 0.005 <= actions.get("hold", 0) + actions.get("block", 0) <= 0.015
    loaded = SessionRiskScorer.load(scorer.save(tmp_path / "sessions"))
    np.testing.assert_array_equal(loaded.scores(X), scorer.scores(X))
    assert loaded.thresholds == scorer.thresholds


def test_live_state_events_give_the_training_features(settings: Settings) -> None:
    events = taobao.load(settings).events.head(3000)
    X = session_features(events)
    ids = X.index[X["n_events"] >= 5][:40]
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable").copy()
    ordered["session"] = sessionise(ordered)
    live = [(sid, [[r.event_type, r.timestamp.timestamp(), r.item_id, r.category_id]
                   for r in ordered[ordered["session"] == sid].itertuples(index=False)]) for sid in ids]
    Y = session_features(live_session_frame(live), gap_minutes=1e9)
    Y.index = [i.rsplit(":", 1)[0] for i in Y.index]
    pd.testing.assert_frame_equal(Y.loc[list(ids)], X.loc[ids], check_names=False, check_index_type=False,
                                  check_exact=False, rtol=1e-9)
