"""``GET /v1/forecast``: hourly demand forecast with bands for a category, from the live event store."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.forecast import ForecastOut
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["forecast"])


@router.get("/forecast", response_model=ForecastOut, responses={401: {}, 403: {}, 422: {}, 503: {}})
async def get_forecast(category: str | None = Query(None, max_length=200,
                                                    description="category id; empty: the whole shop"),
                       horizon: int = Query(6, ge=1, le=48, description="hours ahead"),
                       service: Service = Depends(get_service)) -> ForecastOut:
    """Units bought per hour for the next ``horizon`` hours with 80 % and 95 % conformal bands, the model
    chosen by a backtest on the category's own recent hours (docs/forecast.md, Live)."""
    from shopintent.forecast.live import NotEnoughHistory, forecast_series, live_series

    # Read on the store's thread (a quick query); fit off it, so writes never wait on a model.
    series = await asyncio.wrap_future(service.gateway.call(lambda store: live_series(store, category or None)))
    try:
        result = await run_in_threadpool(forecast_series, series, horizon)
    except NotEnoughHistory as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if result["backtest_mase"] is not None and not math.isfinite(result["backtest_mase"]):
        result["backtest_mase"] = None
    return ForecastOut(**result)
