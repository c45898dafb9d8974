"""Replay the real Taobao UserBehavior log to a running service, as a live stream.

Events are sent in time order (all users interleaved, as a shop would see
them), in batches, at a fixed rate of events per wall-clock second. Each event
carries a stable id (``tb-<row>``), so a replay that is stopped and started
again — or sent twice — stores every event once.

With ``loop`` the log plays again and again as if time went on: pass ``p``
moves every timestamp ``p × (span + gap)`` later (the log's span, plus an hour
so the last sessions of one pass close before the next begins) and gives each
event the id ``<id>~<p>``, so every pass is new events, stored, and the live
sessions keep moving. A loop stops before a pass whose dates would reach the
wall clock: the service rejects events dated in the future.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)
_FIELDS = ["event_id", "user_id", "timestamp", "event_type", "item_id", "category_id"]
#: Seconds between the end of one loop pass and the start of the next (in event time): more
#: than the 30-minute session gap, so passes never merge a shopper's sessions.
LOOP_GAP_S = 3600.0


@dataclass
class HttpReplayReport:
    """What a replay sent over HTTP and what the service answered.

    (The decision engine's offline replay reports in
    :class:`~shopintent.intervene.replay.DecisionReplayReport`.)
    """

    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    decisions: int = 0
    requests: int = 0
    failed_requests: int = 0
    seconds: float = 0.0
    #: Passes over the whole log completed (a loop's count; 1 after a plain replay).
    passes: int = 0

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


def event_seconds(records: list[dict[str, Any]]) -> np.ndarray:
    """Each record's timestamp as unix seconds (ISO-8601 text or numbers); raises naming it."""
    raw = pd.Series([r.get("timestamp") for r in records], dtype=object)
    numeric = pd.to_numeric(raw, errors="coerce")
    text = pd.to_datetime(raw.where(numeric.isna()), utc=True, errors="coerce", format="ISO8601")
    from_text = (text - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    seconds = numeric.astype("float64").fillna(from_text)
    bad = np.flatnonzero(seconds.isna().to_numpy())
    if len(bad):
        raise ValueError(f"record {bad[0] + 1}: timestamp {raw.iloc[bad[0]]!r} is not a date "
                         "(ISO-8601 or unix seconds); a looping replay shifts every timestamp")
    return seconds.to_numpy(dtype="float64")


def shifted_pass(batch: list[dict[str, Any]], seconds: np.ndarray, pass_no: int,
                 offset_s: float) -> list[dict[str, Any]]:
    """A batch as loop pass ``pass_no`` sends it: ``offset_s`` later, ids ``<id>~<pass_no>``.

    Pass 0 is the log as it is. ``seconds`` holds the batch's timestamps as unix seconds.
    """
    if pass_no == 0:
        return batch
    out = []
    for record, at in zip(batch, seconds.tolist(), strict=True):
        moved = {**record, "timestamp": datetime.fromtimestamp(at + offset_s, UTC).isoformat()}
        if record.get("event_id") is not None:
            moved["event_id"] = f"{record['event_id']}~{pass_no}"
        out.append(moved)
    return out


def replay(url: str, api_key: str, records: list[dict[str, Any]], rate: float = 500.0,
           batch_size: int = 100, loop: bool = False,
           on_batch: Callable[[HttpReplayReport], None] | None = None,
           should_stop: Callable[[], bool] = lambda: False, timeout_s: float = 30.0,
           max_passes: int | None = None) -> HttpReplayReport:
    """POST ``records`` to ``url``/v1/events at ``rate`` events/s; returns the counts.

    ``loop`` starts over when the log ends, each pass shifted in time with fresh
    ids (see the module docstring), until ``should_stop``, ``max_passes`` passes,
    or a pass that would be dated in the future.
    Failed requests are retried once after a second; the report counts them.
    """
    if rate <= 0:
        raise ValueError(f"rate {rate} must be positive (events per second)")
    if max_passes is not None and max_passes < 1:
        raise ValueError(f"max_passes {max_passes} must be at least 1")
    seconds = event_seconds(records) if loop and records else np.zeros(len(records))
    period = float(seconds.max() - seconds.min()) + LOOP_GAP_S if loop and records else 0.0
    # httpx logs every request at INFO; a replay sends thousands.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    report = HttpReplayReport()
    started = time.perf_counter()
    endpoint = url.rstrip("/") + "/v1/events"
    with httpx.Client(timeout=timeout_s, headers={"X-API-Key": api_key}) as client:
        while True:
            pass_no, offset = report.passes, report.passes * period
            if pass_no and not records:
                break
            if pass_no and seconds.max() + offset > time.time():
                log.warning("replay loop stops: the next pass would be dated in the future",
                            passes=pass_no)
                break
            for start in range(0, len(records), batch_size):
                batch = shifted_pass(records[start : start + batch_size],
                                     seconds[start : start + batch_size], pass_no, offset)
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
            report.passes += 1
            if not loop or (max_passes is not None and report.passes >= max_passes):
                break
    report.seconds = time.perf_counter() - started
    return report
