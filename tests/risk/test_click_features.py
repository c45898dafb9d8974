"""Streaming click features: one-by-one replay equals the batch, and each feature equals plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.risk.click_features import (
    FEATURE_NAMES,
    KEYS,
    ClickFeatureState,
    click_features,
    iter_clicks,
)

HORIZON = 600.0


def test_replaying_clicks_one_by_one_as_the_live_path_gives_exactly_the_batch_features(
    busy_clicks: pd.DataFrame,
) -> None:
    batch = click_features(busy_clicks, horizon_s=HORIZON)
    state = ClickFeatureState(HORIZON)
    emitted: dict[int, dict[str, float]] = {}
    last = None
    for index, click, seconds in iter_clicks(busy_clicks):
        if last is not None and seconds - last > 30:  # a live timer firing between clicks
            for i, row in state.advance(last + 30):
                assert i not in emitted
                emitted[i] = row
        for i, row in state.push(index, click, seconds):
            assert i not in emitted
            emitted[i] = row
        last = seconds
    for i, row in state.flush():
        emitted[i] = row
    live = pd.DataFrame.from_dict(emitted, orient="index")[list(FEATURE_NAMES)].sort_index()
    assert len(live) == len(batch) == len(busy_clicks)
    pd.testing.assert_frame_equal(live, batch, check_names=False)
    # the look-ahead really holds information: many next gaps are known
    assert batch["ip_next_s"].notna().sum() > 1000


def test_a_timer_releasing_expired_clicks_gives_the_same_rows_as_expiry_on_push(busy_clicks: pd.DataFrame) -> None:
    batch = click_features(busy_clicks, horizon_s=HORIZON)
    state = ClickFeatureState(HORIZON)
    emitted: dict[int, dict[str, float]] = {}
    for index, click, seconds in iter_clicks(busy_clicks):
        emitted.update(state.advance(seconds))  # the service's timer, before each click
        pushed = state.push(index, click, seconds, expire=False)
        emitted.update(pushed)
    emitted.update(state.flush())
    live = pd.DataFrame.from_dict(emitted, orient="index")[list(FEATURE_NAMES)].sort_index()
    pd.testing.assert_frame_equal(live, batch, check_names=False)


def test_each_feature_equals_a_plain_pandas_computation(busy_clicks: pd.DataFrame) -> None:
    features = click_features(busy_clicks, horizon_s=HORIZON)
    frame = busy_clicks.assign(t=(busy_clicks["click_time"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds())
    frame = frame.sort_values("t", kind="stable")
    for key, fields in KEYS.items():
        grouped = frame.groupby(list(fields), sort=False)["t"]
        prev = frame["t"] - grouped.shift(1)
        next_gap = grouped.shift(-1) - frame["t"]
        next_gap = next_gap.where(next_gap <= HORIZON)
        np.testing.assert_allclose(features.loc[frame.index, f"{key}_prev_s"], prev, equal_nan=True)
        np.testing.assert_allclose(features.loc[frame.index, f"{key}_next_s"], next_gap, equal_nan=True)
        # clicks of the key in the last hour, this one included: (t - 3600, t]
        times = frame["t"].to_numpy()
        keys = frame.groupby(list(fields), sort=False).ngroup().to_numpy()
        for position in np.random.default_rng(0).choice(len(frame), 200, replace=False):
            same = keys == keys[position]
            seen = same[: position + 1] & (times[: position + 1] > times[position] - 3600)
            assert features.loc[frame.index[position], f"{key}_n1h"] == seen.sum(), (key, position)


def test_a_click_older_than_the_stream_clock_is_rejected_with_a_reason() -> None:
    state = ClickFeatureState(60)
    click = {"ip": 1, "app": 2, "device": 1, "os": 3, "channel": 4}
    state.push(0, click, 100.0)
    assert "before the stream's clock" in state.check(click, 99.0)
    assert state.check({**click, "app": "x"}, 101.0) == "`app` 'x' is not a non-negative integer id"
    assert state.check({k: v for k, v in click.items() if k != "os"}, 101.0) == "`os` is missing"
    with pytest.raises(ValueError, match="before the stream's clock"):
        state.push(1, click, 50.0)
    # after the horizon passes, the first click is final with no next click
    [(index, row)] = state.advance(161.0)
    assert index == 0 and np.isnan(row["ip_next_s"]) and row["ip_n1m"] == 1.0
