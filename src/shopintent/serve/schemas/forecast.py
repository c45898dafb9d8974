"""Response body of ``GET /v1/forecast``."""

from __future__ import annotations

from pydantic import BaseModel


class DemandPoint(BaseModel):
    """Units bought in one past hour."""

    ds: str
    y: float


class ForecastPoint(BaseModel):
    """One future hour: point forecast and the 80 % / 95 % conformal band."""

    ds: str
    forecast: float
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float


class ForecastOut(BaseModel):
    """A category's (or the shop's, ``all``) hourly demand forecast from the live store."""

    category: str
    horizon: int
    model: str
    backtest_mase: float | None
    history: list[DemandPoint]
    forecast: list[ForecastPoint]
