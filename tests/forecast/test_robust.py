"""Winsorised training on the real pharma weeks: freak weeks clipped, ordinary weeks untouched, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopintent.forecast.robust import WinsorisedTarget, winsorise


def test_winsorise_clips_r03s_freak_week_and_leaves_nearly_every_week(weekly: pd.DataFrame) -> None:
    history = weekly[(weekly["unique_id"] == "R03") & (weekly["ds"] <= "2018-10-07")].set_index("ds")["y"]
    clipped = winsorise(history)
    changed = clipped != history
    assert clipped.loc["2017-10-01"] < history.loc["2017-10-01"] == 98.0
    assert 0 < changed.sum() <= 0.05 * len(history)
    assert clipped.notna().all()


def test_winsorised_target_sees_only_its_own_frame_per_series(weekly: pd.DataFrame) -> None:
    frame = weekly[weekly["unique_id"].isin(["R03", "N02BA"])].reset_index(drop=True)
    transform = WinsorisedTarget()
    transform.set_column_names("unique_id", "ds", "y")
    cut = pd.Timestamp("2017-12-31")
    early = frame[frame["ds"] <= cut].reset_index(drop=True)
    wrecked = frame.assign(y=np.where(frame["ds"] > cut, frame["y"] * 50 + 1000, frame["y"]))
    # Clipping the history up to a cut-off is the same whatever follows it.
    a = transform.fit_transform(early)
    b = transform.fit_transform(wrecked[wrecked["ds"] <= cut].reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)
    for uid, group in a.groupby("unique_id"):
        raw = early[early["unique_id"] == uid]["y"].reset_index(drop=True)
        np.testing.assert_allclose(group["y"].to_numpy(), winsorise(raw).to_numpy())
    assert transform.inverse_transform(a) is a
