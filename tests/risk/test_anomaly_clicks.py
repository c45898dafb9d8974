"""Session anomalies with reason codes on real Taobao sessions, and the click scorer on real clicks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.risk.anomaly import AnomalyDetector, session_features
from shopintent.risk.click_features import FEATURE_NAMES, click_features, iter_clicks
from shopintent.risk.clicks import click_model, time_split
from shopintent.risk.rules import parse_rules
from shopintent.risk.scorer import ClickRiskScorer, click_thresholds
from shopintent.risk.simulate_bots import PATTERNS, simulate_all
from shopintent.settings import Settings


@pytest.fixture(scope="module")
def events(session_settings: Settings) -> pd.DataFrame:
    return taobao.load(session_settings).events


def test_simulated_bots_stand_out_with_the_reasons_of_their_pattern(events: pd.DataFrame) -> None:
    real = session_features(events)
    detector = AnomalyDetector(n_estimators=100).fit(real)
    assert (detector.score(real) >= detector.threshold_).mean() == pytest.approx(0.01, abs=0.002)
    bots = simulate_all(20, events, seed=3)
    assert bots["user_id"].str.startswith("sim-").all()  # labelled as simulation
    features = session_features(bots)
    pattern = features.index.str.split("-").str[1]
    reasons = detector.reasons(features)
    named = {p: [{x.feature for x in r} for r, q in zip(reasons, pattern, strict=True) if q == p]
             for p in PATTERNS}
    assert np.mean([bool(r & {"events_per_min", "distinct_categories", "n_events"})
                    for r in named["scraper"]]) > 0.8
    assert np.mean([bool(r & {"cart_share", "cart_without_view_share"}) for r in named["cart_hoarder"]]) > 0.8
    assert (detector.score(features) >= detector.threshold_).mean() > 0.8
    sample = reasons[0][0]
    assert sample.text().startswith(f"{sample.feature} ") and "real sessions" in sample.text()


def test_night_cart_without_view_and_regularity_features_on_real_events(events: pd.DataFrame) -> None:
    features = session_features(events.head(3000))
    assert ((features["night_share"] >= 0) & (features["night_share"] <= 1)).all()
    assert ((features["cart_without_view_share"] >= 0) & (features["cart_without_view_share"] <= 1)).all()
    one = events.head(3000).iloc[[0]]
    single = session_features(one)
    assert single.iloc[0][["n_events", "gap_cv", "events_per_min"]].tolist() == [1.0, 0.0, 1.0]


def test_click_scorer_gives_delayed_verdicts_for_every_click_and_rejects_bad_ones(busy_clicks: pd.DataFrame) -> None:
    features = click_features(busy_clicks)
    split = time_split(busy_clicks["click_time"])
    y = busy_clicks["is_attributed"].to_numpy()
    model = click_model().set_params(n_estimators=50).fit(features.loc[split.train, list(FEATURE_NAMES)],
                                                          y[split.train])
    train_scores = 1 - model.predict_proba(features.loc[split.train, list(FEATURE_NAMES)])[:, 1]
    rules = parse_rules('[[rule]]\nname="burst"\nkind="velocity"\nfield="ip_n1m"\nmax=5\naction="hold"')
    scorer = ClickRiskScorer(model, click_thresholds(train_scores), rules)
    stream = list(iter_clicks(busy_clicks))[:2000]
    bad = [(-1, {"ip": 1}, stream[5][2]), (-2, "junk", stream[5][2])]
    verdicts, rejected = scorer.push_batch(stream[:5] + bad + stream[5:])
    verdicts += scorer.flush()
    assert [(r.index, r.reason) for r in rejected] == [(-1, "`app` is missing"),
                                                      (-2, "expected an object of fields, got str")]
    assert sorted(i for i, _ in verdicts) == sorted(i for i, _, _ in stream)
    # the verdict's score is the batch model's on the batch features: one implementation
    by_index = dict(verdicts)
    positions = [i for i, _, _ in stream[:200]]
    expected = 1 - model.predict_proba(features.iloc[positions][list(FEATURE_NAMES)])[:, 1]
    np.testing.assert_allclose([by_index[i].score for i in positions], expected, rtol=1e-9)
    actions = pd.Series([v.action for v in by_index.values()]).value_counts()
    assert actions.get("allow", 0) > len(stream) / 2
    burst = [v for v in by_index.values() if "burst" in v.rules]
    assert all(v.action in ("hold", "block") for v in burst)
