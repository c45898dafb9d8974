"""Features at event k use only events up to k: truncating the log after k changes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopintent.behaviour.examples import build_prefix_table
from shopintent.behaviour.features import FEATURE_NAMES
from shopintent.behaviour.scorer import SessionScorer


def _users(taobao_sessions, n=60):
    users = taobao_sessions["user_id"].drop_duplicates().iloc[:n]
    return taobao_sessions[taobao_sessions["user_id"].isin(users)].reset_index(drop=True)


def test_prefix_features_equal_those_computed_on_a_log_truncated_at_t(taobao_sessions):
    events = _users(taobao_sessions)
    full = build_prefix_table(events, max_k=10, utc_offset_hours=8).frame
    rng = np.random.default_rng(0)
    picked = full.iloc[rng.choice(len(full), size=40, replace=False)]
    ordered = events.sort_values(["user_id", "timestamp", "seq"], kind="stable").reset_index(drop=True)
    for _, row in picked.iterrows():
        # Keep exactly the user's events up to and including the k-th event of this session.
        user_events = ordered[ordered["user_id"] == row["user_id"]]
        session_rows = user_events.index[user_events["session_id"] == row["session_id"]]
        last = session_rows[int(row["k"]) - 1]
        truncated = user_events.loc[:last]
        # Poison everything after t: a leak would change features or fail.
        later = user_events.loc[last + 1:].assign(event_type="purchase")
        for frame in (truncated, pd.concat([truncated, later])):
            again = build_prefix_table(frame, max_k=10, utc_offset_hours=8).frame
            match = again[(again["session_id"] == row["session_id"]) & (again["k"] == row["k"])]
            assert len(match) == 1
            np.testing.assert_array_equal(match[list(FEATURE_NAMES)].to_numpy()[0],
                                          row[list(FEATURE_NAMES)].to_numpy(dtype=float))


def test_labels_look_only_forward_and_purchase_label_is_undefined_after_a_purchase(taobao_sessions):
    events = _users(taobao_sessions, 200)
    frame = build_prefix_table(events, max_k=20).frame
    bought = frame["n_purchase"] > 0
    assert frame.loc[bought, "y_purchase"].isna().all()
    assert frame.loc[~bought, "y_purchase"].notna().all()
    no_cart = frame["n_add_to_cart"] == 0
    assert frame.loc[no_cart, "y_abandon"].isna().all()


def test_live_scorer_sees_the_same_features_as_the_training_rows(taobao_sessions):
    events = _users(taobao_sessions, 5)
    table = build_prefix_table(events, max_k=50, utc_offset_hours=8).frame
    first_user = events["user_id"].iloc[0]
    user_events = events[events["user_id"] == first_user].sort_values(["timestamp", "seq"])
    scorer = SessionScorer({}, n_reasons=0)
    scorer.utc_offset_hours = 8.0
    scorer.state.utc_offset_s = 8 * 3600.0
    current = None
    checked = 0
    for event in user_events.itertuples():
        if current is not None and event.session_id != current:
            scorer.close()
        current = event.session_id
        scorer.update({"event_type": event.event_type, "timestamp": event.timestamp,
                       "item_id": event.item_id, "category_id": event.category_id})
        row = table[(table["session_id"] == event.session_id) & (table["k"] == scorer.state.k)]
        if len(row):
            np.testing.assert_array_equal(scorer.state.vector(), row[list(FEATURE_NAMES)].to_numpy()[0])
            checked += 1
    assert checked >= 20
