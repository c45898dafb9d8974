"""A raw event file → demand series, through the event store (what ``forecast backtest --events`` reads).

Why through the store and not a CSV read: an event log needs the same validation,
pseudonymisation and de-duplication as any other ingest (a repeated event must not count
twice as demand), and demand must be the same numbers the live service forecasts. So the
file goes through :func:`~shopintent.store.ingest.ingest_events` into a throwaway
in-memory :class:`~shopintent.store.EventStore`, and the series come from
:func:`~shopintent.forecast.demand.demand_series` on that store's engine. Rejected rows are
counted (with the first few reasons) in the returned report, never dropped silently.

Demand is read per hour for ``--freq H`` and per day otherwise; weekly series are the daily
ones summed by :func:`~shopintent.forecast.series.prepare` (weeks ending Sunday).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.forecast.demand import LEVELS, demand_series
from shopintent.forecast.series import SeriesError, SeriesReport, prepare
from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events, read_event_file

log = get_logger(__name__)

#: Rejections quoted in the report (the rest are counted).
SHOWN_REJECTIONS = 5


def event_demand(path: Path, freq: str, level: str, utc_offset_hours: int, settings: Settings,
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Units bought per ``level`` series and period (``unique_id, ds, y``) from an event file, and the ingest report.

    ``freq`` is the forecast's period (H, D or W); the store is read hourly for H, daily otherwise.
    """
    if level not in LEVELS:
        raise SeriesError(f"--level {level!r}: choose from {', '.join(LEVELS)}")
    try:
        frame = read_event_file(Path(path))
    except FileNotFoundError as exc:
        raise SeriesError(f"--events {path}: no such file") from exc
    pseudonymizer = Pseudonymizer.from_settings(settings)
    with EventStore(":memory:", key_id=pseudonymizer.key_id) as store:
        report = ingest_events(store, frame, pseudonymizer, max_future_skew_s=settings.max_future_skew_s)
        if report.appended == 0:
            reasons = "; ".join(map(str, report.rejections[:SHOWN_REJECTIONS]))
            raise SeriesError(f"--events {path}: no valid event among {report.input} rows ({reasons})")
        series = demand_series(store.engine(), "events", freq="H" if freq == "H" else "D", level=level,
                               utc_offset_hours=utc_offset_hours)[["unique_id", "ds", "y"]]
    ingest = {"rows": report.input, "accepted": report.accepted, "stored": report.appended,
              "duplicates": report.duplicates, "rejected": report.rejected,
              "first_rejections": [str(r) for r in report.rejections[:SHOWN_REJECTIONS]],
              "level": level, "utc_offset_hours": utc_offset_hours}
    bought = series.groupby("unique_id")["y"].transform("sum") > 0
    # A category viewed but never bought has no demand to forecast; counted, not hidden.
    ingest["series_without_purchases"] = int(series.loc[~bought, "unique_id"].nunique())
    series = series[bought].reset_index(drop=True)
    if series.empty:
        raise SeriesError(f"--events {path}: no purchase event with a {level} id; nothing to forecast")
    log.info("event demand read", **{k: v for k, v in ingest.items() if isinstance(v, int)})
    return series, ingest


def prepare_events(path: Path, freq: str, level: str, utc_offset_hours: int, settings: Settings,
                   min_length: int) -> tuple[pd.DataFrame, SeriesReport, dict[str, Any]]:
    """Event file → regular series at ``freq`` (too-short series excluded and named), with both reports."""
    series, ingest = event_demand(path, freq, level, utc_offset_hours, settings)
    regular, report = prepare(series, "unique_id", "ds", "y", freq, min_length)
    return regular, report, ingest
