"""The live store's forecast for one category (or the whole shop): what ``GET /v1/forecast`` returns.

:func:`live_series` runs on the store's own thread (the service hands it to the gateway) and
only reads the hourly demand series with :func:`~shopintent.forecast.demand.demand_series`;
:func:`forecast_series` then runs off that thread, so store writes never wait on a fit. It fits a
:class:`~shopintent.forecast.forecaster.Forecaster` over cheap models only (a request must
answer in seconds): seasonal naive, naive, ADIDA (intermittent), ETS. The intervals are
conformal, calibrated on the series' own recent backtest.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shopintent.forecast.demand import demand_series
from shopintent.forecast.forecaster import Forecaster
from shopintent.store import EventStore

LIVE_MODELS: tuple[str, ...] = ("SeasonalNaive", "Naive", "ADIDA", "AutoETS")
LIVE_WINDOWS = 8
LIVE_CALIBRATION = 16
#: Hours of history the live forecast looks at (the newest; older hours add little and cost time).
LIVE_HISTORY_HOURS = 24 * 14


class NotEnoughHistory(ValueError):
    """The category has too little demand history in the store to backtest a forecast."""


def live_series(store: EventStore, category: str | None, utc_offset_hours: int = 0) -> pd.DataFrame:
    """The newest hours of units bought for ``category`` (None: the whole shop, id ``all``)."""
    level = "total" if category is None else "category"
    key = "all" if category is None else str(category)
    series = demand_series(store.engine(), "events", freq="H", level=level, utc_offset_hours=utc_offset_hours,
                           ids=[key])
    one = series[["unique_id", "ds", "y"]].tail(LIVE_HISTORY_HOURS)  # ids=[key]: only this series
    one.attrs["category"] = key
    return one.reset_index(drop=True)


def forecast_series(one: pd.DataFrame, horizon: int) -> dict[str, Any]:
    """History and forecast (80 / 95 % bands) of one hourly series from :func:`live_series`."""
    key = one.attrs.get("category", "all")
    needed = 24 + LIVE_CALIBRATION + LIVE_WINDOWS + horizon
    if len(one) < needed:
        raise NotEnoughHistory(f"category {key!r} has {len(one)} hours of events in the store; a forecast needs "
                               f"at least {needed} (history, calibration and backtest cut-offs)")
    forecaster = Forecaster(freq="H", horizon=horizon, models=LIVE_MODELS, windows=LIVE_WINDOWS,
                            calibration=LIVE_CALIBRATION).fit(one)
    predicted = forecaster.predict()
    stamp = "%Y-%m-%dT%H:%M:%S"
    return {
        "category": key,
        "horizon": horizon,
        "model": forecaster.model_,
        "backtest_mase": forecaster.backtest_[forecaster.model_]["mase"],
        "history": [{"ds": pd.Timestamp(r.ds).strftime(stamp), "y": float(r.y)}
                    for r in one.tail(48).itertuples(index=False)],
        "forecast": [{"ds": pd.Timestamp(r["ds"]).strftime(stamp), "forecast": float(r["forecast"]),
                      "lo_80": float(r["lo-80"]), "hi_80": float(r["hi-80"]),
                      "lo_95": float(r["lo-95"]), "hi_95": float(r["hi-95"])}
                     for r in predicted.to_dict("records")],
    }
