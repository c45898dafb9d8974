"""Replay the real Taobao UserBehavior log to a running service, as a live stream.

Events are sent in time order (all users interleaved, as a shop would see
them), in batches, at a fixed rate of events per wall-clock second. Each event
carries a stable id (``tb-<row>``), so a replay that is stopped and started
again — or sent twice — stores every event once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.settings import Settings

_FIELDS = ["event_id", "user_id", "timestamp", "event_type", "item_id", "category_id"]


@dataclass
class ReplayReport:
    """What a replay sent and what the service answered."""

    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    decisions: int = 0
    requests: int = 0
    failed_requests: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "events_per_s": round(self.sent / self.seconds, 1) if self.seconds else 0.0}


def taobao_stream(settings: Settings, limit: int | None = None) -> list[dict[str, Any]]:
    """The in-window Taobao events in time order as JSON-ready dicts with stable ids."""
    events = taobao.load(settings).events
    events = events.assign(event_id=pd.array([f"tb-{i}" for i in range(len(events))], dtype="string"))
    events = events.sort_values(["timestamp", "event_id"], kind="stable")
    if limit is not None:
        events = events.head(limit)
    frame = events[_FIELDS].copy()
    frame["timestamp"] = frame["timestamp"].map(lambda t: t.isoformat())
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: v for k, v in r.items() if v is not None} for r in records]


def batches(records: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def replay(url: str, api_key: str, records: list[dict[str, Any]], rate: float = 500.0,
           batch_size: int = 100, loop: bool = False,
           on_batch: Callable[[ReplayReport], None] | None = None,
           should_stop: Callable[[], bool] = lambda: False, timeout_s: float = 30.0) -> ReplayReport:
    """POST ``records`` to ``url``/v1/events at ``rate`` events/s; returns the counts.

    ``loop`` starts over when the log ends (ids repeat, so later rounds are
    answered as duplicates: the store does not grow, the stream keeps moving).
    Failed requests are retried once after a second; the report counts them.
    """
    if rate <= 0:
        raise ValueError(f"rate {rate} must be positive (events per second)")
    # httpx logs every request at INFO; a replay sends thousands.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    report = ReplayReport()
    started = time.perf_counter()
    endpoint = url.rstrip("/") + "/v1/events"
    with httpx.Client(timeout=timeout_s, headers={"X-API-Key": api_key}) as client:
        while True:
            for batch in batches(records, batch_size):
                if should_stop():
                    report.seconds = time.perf_counter() - started
                    return report
                due = started + (report.sent + len(batch)) / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                body = None
                for attempt in range(2):
                    try:
                        response = client.post(endpoint, json={"events": batch})
                        if response.status_code == 200:
                            body = response.json()
                            break
                        if response.status_code in (401, 413, 422):
                            raise RuntimeError(f"the service refused the batch: HTTP "
                                               f"{response.status_code} {response.text[:300]}")
                    except httpx.TransportError:
                        pass
                    report.failed_requests += 1
                    if attempt == 0:
                        time.sleep(1.0)
                report.requests += 1
                report.sent += len(batch)
                if body is not None:
                    report.stored += body["stored"]
                    report.duplicates += body["duplicates"]
                    report.rejected += body["rejected"]
                    report.decisions += len(body["decisions"])
                if on_batch is not None:
                    on_batch(report)
            if not loop:
                break
    report.seconds = time.perf_counter() - started
    return report
