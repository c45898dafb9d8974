"""Validate a batch of events: keep the good rows, name the bad ones.

A shop's log is never clean. :func:`validate_events` checks a whole table at
once (vectorised, so ingest stays fast), keeps every valid row in canonical
form and returns each rejected row with the field and the reason, so nothing is
dropped silently. Row numbers are 1-based: row 1 is the first record of the batch
(the first data line of a file, after any header).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shopintent.schema.records import EVENT_TYPE_ALIASES, ITEM_EVENT_TYPES, Event, EventType

#: Canonical event-table columns, in order, and their pandas dtypes.
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "user_id": "string",
    "session_id": "string",
    "timestamp": "datetime64[us, UTC]",
    "event_type": "string",
    "item_id": "string",
    "category_id": "string",
    "query": "string",
    "price": "float64",
    "quantity": "Int64",
}
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = ("user_id", "timestamp", "event_type")

# Dates outside this window are almost always unit mistakes (ms read as s, 0 epoch).
_EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
_LATEST = pd.Timestamp("2100-01-01", tz="UTC")
#: How far past the wall clock an event may be dated (seconds): clocks of shops' servers and
#: phones drift by seconds or minutes, never by years. ``Settings.max_future_skew_s`` holds
#: the configured value (same default); this module imports nothing from the package.
DEFAULT_MAX_FUTURE_SKEW_S = 300.0
_SPANS = (("year", 365.25 * 86400), ("day", 86400.0), ("hour", 3600.0), ("minute", 60.0))


class ValidationError(ValueError):
    """Raised when a single record (not a batch) is invalid."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one input row was not accepted."""

    row: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: `{self.field}` {self.value!r} {self.reason}"


@dataclass
class ValidationReport:
    """The outcome of validating one batch: the kept rows and the rejected ones."""

    valid: pd.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    n_input: int = 0

    @property
    def n_valid(self) -> int:
        return len(self.valid)

    @property
    def rejected_rows(self) -> list[int]:
        """Positions of the rejected input rows (each once)."""
        return sorted({r.row for r in self.rejections})

    @property
    def n_rejected(self) -> int:
        return len(self.rejected_rows)

    def summary(self) -> dict[str, Any]:
        """Counts and the first reasons, for logs and ``--json`` output."""
        return {
            "input": self.n_input,
            "accepted": self.n_valid,
            "rejected": self.n_rejected,
            "reasons": [str(r) for r in self.rejections[:20]],
        }


def _as_frame(batch: pd.DataFrame | Iterable[Mapping[str, Any] | Event]) -> pd.DataFrame:
    if isinstance(batch, pd.DataFrame):
        return batch.reset_index(drop=True)
    rows = [asdict(r) if isinstance(r, Event) else dict(r) for r in batch]
    return pd.DataFrame.from_records(rows)


def _text_column(raw: pd.Series) -> pd.Series:
    """Ids and text as nullable strings; blank strings count as missing."""
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """Accept datetimes, ISO-8601 strings and unix epoch seconds; NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = pd.to_datetime(raw, utc=True)
    else:
        numeric = pd.to_numeric(raw, errors="coerce")
        from_epoch = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
        as_text = raw.where(numeric.isna())
        from_text = pd.to_datetime(as_text, utc=True, errors="coerce", format="ISO8601")
        parsed = from_epoch.fillna(from_text)
    return parsed.astype("datetime64[us, UTC]")


def how_far(seconds: float) -> str:
    """A duration in words at its largest whole unit ("73 years", "12 minutes", "40 s")."""
    for unit, size in _SPANS:
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}" + ("" if n == 1 else "s")
    return f"{seconds:.0f} s"


def _too_far_ahead(timestamp: pd.Series, now: datetime | pd.Timestamp | None,
                   max_future_skew_s: float) -> tuple[pd.Series, pd.Series]:
    """Which timestamps lie more than the skew after ``now``, and by how many seconds."""
    if max_future_skew_s < 0 or not np.isfinite(max_future_skew_s):
        raise ValueError(f"max_future_skew_s {max_future_skew_s} must be a finite number >= 0")
    clock = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if clock.tzinfo is None:
        raise ValueError(f"now {clock} has no time zone; pass a UTC time")
    ahead = (timestamp - clock).dt.total_seconds()
    return ahead.gt(max_future_skew_s).fillna(False).astype(bool), ahead


def _reject(
    rejections: list[Rejection], mask: pd.Series, raw: pd.Series, name: str, reason: str
) -> None:
    for row in np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False)):
        value = raw.iloc[row]
        shown = "" if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and np.isnan(value)) else value
        rejections.append(Rejection(int(row) + 1, name, str(shown), reason))


def validate_events(batch: pd.DataFrame | Iterable[Mapping[str, Any] | Event], *,
                    max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
                    now: datetime | pd.Timestamp | None = None) -> ValidationReport:
    """Check a batch of events and return the valid rows in canonical form.

    Accepts a DataFrame or an iterable of dicts / :class:`Event` records. Every
    problem found is reported as a :class:`Rejection` naming the row and the
    field; a row with any problem is left out of ``valid``, all others are kept.
    A missing *required column* rejects every row, naming the column.

    An event dated more than ``max_future_skew_s`` seconds after ``now`` (the
    wall clock, UTC, when not given) is rejected: one such event would move
    every clock that follows the newest event time (the service's live
    sessions) to its date. Only the future is limited, so historic logs pass;
    ``None`` turns the check off.
    """
    frame = _as_frame(batch)
    for column in EVENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    rejections: list[Rejection] = []
    user_id = _text_column(frame["user_id"])
    _reject(rejections, user_id.isna(), frame["user_id"], "user_id", "is missing")
    timestamp = _check_timestamps(frame["timestamp"], rejections, max_future_skew_s, now)
    event_type = _check_event_types(frame["event_type"], rejections)
    item_id, query = _check_item_and_query(frame, event_type, rejections)
    price = _check_price(frame["price"], rejections)
    quantity = _check_quantity(frame["quantity"], rejections)

    keep = np.ones(len(frame), dtype=bool)
    keep[[r.row - 1 for r in rejections]] = False
    canonical = pd.DataFrame(
        {
            "event_id": _text_column(frame["event_id"]),
            "user_id": user_id,
            "session_id": _text_column(frame["session_id"]),
            "timestamp": timestamp,
            "event_type": event_type.astype("string"),
            "item_id": item_id,
            "category_id": _text_column(frame["category_id"]),
            "query": query,
            "price": price.astype("float64"),
            "quantity": quantity.round().astype("Int64"),
        }
    )[keep].reset_index(drop=True)
    rejections.sort(key=lambda r: (r.row, r.field))
    return ValidationReport(valid=canonical.astype(EVENT_COLUMNS), rejections=rejections,
                            n_input=len(frame))


def _check_timestamps(raw: pd.Series, rejections: list[Rejection], max_future_skew_s: float | None,
                      now: datetime | pd.Timestamp | None) -> pd.Series:
    """Parse ``timestamp``; reject missing, unparseable, out-of-range and too-far-ahead dates."""
    timestamp = _parse_timestamps(raw)
    absent = raw.isna() | (raw.astype("string").str.strip() == "")
    _reject(rejections, absent, raw, "timestamp", "is missing")
    _reject(rejections, timestamp.isna() & ~absent, raw, "timestamp",
            "is not a date (ISO-8601 or unix seconds)")
    out_of_range = timestamp.notna() & ((timestamp < _EARLIEST) | (timestamp >= _LATEST))
    _reject(rejections, out_of_range, raw, "timestamp",
            "is outside 1990-2100 (milliseconds given as seconds?)")
    if max_future_skew_s is not None:
        ahead_mask, ahead_s = _too_far_ahead(timestamp, now, max_future_skew_s)
        ahead_mask &= ~out_of_range
        for row in np.flatnonzero(ahead_mask.to_numpy()):
            rejections.append(Rejection(
                int(row) + 1, "timestamp", str(raw.iloc[row]),
                f"is {how_far(float(ahead_s.iloc[row]))} in the future; the limit is "
                f"{max_future_skew_s:g} s (SHOPINTENT_MAX_FUTURE_SKEW_S)"))
    return timestamp


def _check_event_types(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Canonical ``event_type`` (aliases mapped); reject missing and unknown types."""
    type_text = _text_column(raw).str.lower()
    event_type = type_text.replace(EVENT_TYPE_ALIASES)
    known = event_type.isin([t.value for t in EventType])
    _reject(rejections, type_text.isna(), raw, "event_type", "is missing")
    allowed = ", ".join(t.value for t in EventType)
    _reject(rejections, type_text.notna() & ~known, raw, "event_type",
            f"is not an event type ({allowed})")
    return event_type


def _check_item_and_query(frame: pd.DataFrame, event_type: pd.Series,
                          rejections: list[Rejection]) -> tuple[pd.Series, pd.Series]:
    """``item_id`` and ``query``; reject item events without an item and searches without a query."""
    item_id = _text_column(frame["item_id"])
    needs_item = event_type.isin([t.value for t in ITEM_EVENT_TYPES])
    _reject(rejections, needs_item & item_id.isna(), frame["item_id"], "item_id",
            "is missing (required for view, cart, favourite and purchase events)")
    query = _text_column(frame["query"])
    _reject(rejections, (event_type == EventType.SEARCH.value) & query.isna(), frame["query"],
            "query", "is missing (required for search events)")
    return item_id, query


def _check_price(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Numeric ``price`` (missing allowed); reject text, infinities and negative prices."""
    price = pd.to_numeric(raw, errors="coerce")
    given = raw.notna() & (raw.astype("string").str.strip() != "")
    _reject(rejections, given & price.isna(), raw, "price", "is not a number")
    _reject(rejections, price.notna() & ~np.isfinite(price.fillna(0)), raw, "price", "is not finite")
    _reject(rejections, price < 0, raw, "price", "is negative")
    return price


def _check_quantity(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Numeric ``quantity`` (missing allowed); reject text, fractions and counts below 1."""
    quantity = pd.to_numeric(raw, errors="coerce")
    given = raw.notna() & (raw.astype("string").str.strip() != "")
    _reject(rejections, given & quantity.isna(), raw, "quantity", "is not a number")
    whole = quantity.isna() | (quantity == quantity.round())
    _reject(rejections, ~whole, raw, "quantity", "is not a whole number")
    _reject(rejections, quantity.notna() & whole & (quantity < 1), raw, "quantity",
            "is less than 1")
    return quantity


def validate_event(record: Mapping[str, Any] | Event, *,
                   max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
                   now: datetime | pd.Timestamp | None = None) -> Event:
    """Validate one event and return it as an :class:`Event`, or raise ``ValidationError``."""
    report = validate_events([record], max_future_skew_s=max_future_skew_s, now=now)
    if report.rejections:
        reasons = "; ".join(f"`{r.field}` {r.value!r} {r.reason}" for r in report.rejections)
        raise ValidationError(reasons)
    return next(iter(events_from_frame(report.valid)))


def events_from_frame(frame: pd.DataFrame) -> Iterable[Event]:
    """Turn a canonical (already validated) event table back into records."""
    for row in frame.itertuples(index=False):
        yield Event(
            user_id=row.user_id,
            timestamp=row.timestamp.to_pydatetime(),
            event_type=EventType(row.event_type),
            item_id=None if pd.isna(row.item_id) else row.item_id,
            session_id=None if pd.isna(row.session_id) else row.session_id,
            category_id=None if pd.isna(row.category_id) else row.category_id,
            query=None if pd.isna(row.query) else row.query,
            price=None if pd.isna(row.price) else float(row.price),
            quantity=None if pd.isna(row.quantity) else int(row.quantity),
            event_id=None if pd.isna(row.event_id) else row.event_id,
        )
