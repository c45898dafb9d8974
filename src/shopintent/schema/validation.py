"""Validate a batch of events: keep the good rows, name the bad ones.

A shop's log is never clean. :func:`validate_events` checks a whole table at
once (vectorised, so ingest stays fast), keeps every valid row in canonical
form and returns each rejected row with the field and the reason, so nothing is
dropped silently. Row numbers are 1-based: row 1 is the first record of the batch
(the first data line of a file, after any header).

:func:`validate_rows` applies the same rules, with the same reasons, to a few dicts
one by one: a request of one event should not pay for building a table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
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

# Each rule's reason, written once: validate_events and validate_rows both report these.
_MISSING = "is missing"
_NOT_A_DATE = "is not a date (ISO-8601 or unix seconds)"
_OUT_OF_RANGE = "is outside 1990-2100 (milliseconds given as seconds?)"
_NOT_AN_EVENT_TYPE = f"is not an event type ({', '.join(t.value for t in EventType)})"
_NO_ITEM = "is missing (required for view, cart, favourite and purchase events)"
_NO_QUERY = "is missing (required for search events)"
_NOT_A_NUMBER = "is not a number"
_NOT_FINITE = "is not finite"
_NEGATIVE = "is negative"
_NOT_WHOLE = "is not a whole number"
_BELOW_ONE = "is less than 1"
#: The largest count a quantity may be: every whole number up to it is exact in a float64,
#: and the store's BIGINT holds it. Larger (or infinite) counts are rejected, not cast.
MAX_QUANTITY = 2**53
_TOO_LARGE = f"is larger than the largest count ({MAX_QUANTITY:,})"
_KNOWN_TYPES = frozenset(t.value for t in EventType)
_ITEM_TYPES = frozenset(t.value for t in ITEM_EVENT_TYPES)


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
    frame = pd.DataFrame.from_records(rows)
    if len(frame) != len(rows):  # only empty dicts: pandas makes no rows of them, keep one each
        frame = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    return frame


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
        # Seconds past ±2**33 (year 2242) are out of range whatever they are. Clamp them
        # there: pandas turns them into NaT or a wrapped date depending on the other values
        # of the column, so the verdict would change with the batch a row arrives in.
        beyond = (numeric.abs() > _EPOCH_RANGE) & np.isfinite(numeric)
        if beyond.any():
            numeric = numeric.astype("float64").where(~beyond, np.sign(numeric) * _EPOCH_RANGE)
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


def _clock(now: datetime | pd.Timestamp | None, max_future_skew_s: float) -> datetime:
    """The time future dates are measured from (the wall clock unless ``now`` is given)."""
    if max_future_skew_s < 0 or not np.isfinite(max_future_skew_s):
        raise ValueError(f"max_future_skew_s {max_future_skew_s} must be a finite number >= 0")
    # datetime.now, not pd.Timestamp.now: the same microseconds, a twentieth of the cost.
    clock = datetime.now(UTC) if now is None else pd.Timestamp(now)
    if clock.tzinfo is None:
        raise ValueError(f"now {clock} has no time zone; pass a UTC time")
    return clock


def _future_reason(ahead_s: float, max_future_skew_s: float) -> str:
    return (f"is {how_far(ahead_s)} in the future; the limit is "
            f"{max_future_skew_s:g} s (SHOPINTENT_MAX_FUTURE_SKEW_S)")


def _shown(value: Any) -> str:
    """A rejected raw value as its reason shows it: nulls as the empty string."""
    gone = value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value))
    return "" if gone else str(value)


def _too_far_ahead(timestamp: pd.Series, now: datetime | pd.Timestamp | None,
                   max_future_skew_s: float) -> tuple[pd.Series, pd.Series]:
    """Which timestamps lie more than the skew after ``now``, and by how many seconds."""
    clock = pd.Timestamp(_clock(now, max_future_skew_s))
    ahead = (timestamp - clock).dt.total_seconds()
    return ahead.gt(max_future_skew_s).fillna(False).astype(bool), ahead


def _reject(
    rejections: list[Rejection], mask: pd.Series, raw: pd.Series, name: str, reason: str
) -> None:
    for row in np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False)):
        rejections.append(Rejection(int(row) + 1, name, _shown(raw.iloc[row]), reason))


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
    _reject(rejections, user_id.isna(), frame["user_id"], "user_id", _MISSING)
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
    _reject(rejections, absent, raw, "timestamp", _MISSING)
    _reject(rejections, timestamp.isna() & ~absent, raw, "timestamp", _NOT_A_DATE)
    out_of_range = timestamp.notna() & ((timestamp < _EARLIEST) | (timestamp >= _LATEST))
    _reject(rejections, out_of_range, raw, "timestamp", _OUT_OF_RANGE)
    if max_future_skew_s is not None:
        ahead_mask, ahead_s = _too_far_ahead(timestamp, now, max_future_skew_s)
        ahead_mask &= ~out_of_range
        for row in np.flatnonzero(ahead_mask.to_numpy()):
            reason = _future_reason(float(ahead_s.iloc[row]), max_future_skew_s)
            rejections.append(Rejection(int(row) + 1, "timestamp", str(raw.iloc[row]), reason))
    return timestamp


def _check_event_types(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Canonical ``event_type`` (aliases mapped); reject missing and unknown types."""
    type_text = _event_type_text(raw)
    event_type = type_text.replace(EVENT_TYPE_ALIASES)
    known = event_type.isin(_KNOWN_TYPES)
    _reject(rejections, type_text.isna(), raw, "event_type", _MISSING)
    _reject(rejections, type_text.notna() & ~known, raw, "event_type", _NOT_AN_EVENT_TYPE)
    return event_type


def _event_type_text(raw: pd.Series) -> pd.Series:
    """``event_type`` as typed, stripped and lower-cased (before aliases are resolved)."""
    return _text_column(raw).str.lower()


def _check_item_and_query(frame: pd.DataFrame, event_type: pd.Series,
                          rejections: list[Rejection]) -> tuple[pd.Series, pd.Series]:
    """``item_id`` and ``query``; reject item events without an item and searches without a query."""
    item_id = _text_column(frame["item_id"])
    needs_item = event_type.isin(_ITEM_TYPES)
    _reject(rejections, needs_item & item_id.isna(), frame["item_id"], "item_id", _NO_ITEM)
    query = _text_column(frame["query"])
    _reject(rejections, (event_type == EventType.SEARCH.value) & query.isna(), frame["query"],
            "query", _NO_QUERY)
    return item_id, query


def _check_price(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Numeric ``price`` (missing allowed); reject text, infinities and negative prices."""
    price = pd.to_numeric(raw, errors="coerce")
    given = raw.notna() & (raw.astype("string").str.strip() != "")
    _reject(rejections, given & price.isna(), raw, "price", _NOT_A_NUMBER)
    _reject(rejections, price.notna() & ~np.isfinite(price.fillna(0)), raw, "price", _NOT_FINITE)
    _reject(rejections, price < 0, raw, "price", _NEGATIVE)
    return price


def _check_quantity(raw: pd.Series, rejections: list[Rejection]) -> pd.Series:
    """Numeric ``quantity`` (missing allowed); reject text, fractions and counts below 1."""
    quantity = pd.to_numeric(raw, errors="coerce")
    given = raw.notna() & (raw.astype("string").str.strip() != "")
    _reject(rejections, given & quantity.isna(), raw, "quantity", _NOT_A_NUMBER)
    too_large = quantity.notna() & ~(quantity.abs() <= MAX_QUANTITY)
    _reject(rejections, too_large, raw, "quantity", _TOO_LARGE)
    quantity = quantity.mask(too_large)  # rejected above; never cast to Int64
    whole = quantity.isna() | (quantity == quantity.round())
    _reject(rejections, ~whole, raw, "quantity", _NOT_WHOLE)
    _reject(rejections, quantity.notna() & whole & (quantity < 1), raw, "quantity", _BELOW_ONE)
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


# --- row by row: the same rules for a handful of events, without building a table ----------
# validate_events pays a fixed cost of milliseconds per batch (a DataFrame, a dozen column
# operations); a request of one event needs microseconds. validate_rows applies the rules
# above to plain dicts, reporting the same reasons through the same helpers. Where a value's
# outcome depends on how pandas reads it (its column's dtype, pandas' own parsers), the
# parsing is delegated to the vectorised helper on that one value, and a value outside what
# it is built to decide raises RowwiseUnsupported so the caller uses validate_events.

_ABSENT = object()  # a field the dict does not have (pandas reads it as NaN)
#: Numbers a float64 holds exactly; an integer beyond this, or a quantity past it, goes the
#: vectorised way (whose column dtype and Int64 cast decide it).
_EXACT = 2**53
#: Unix seconds turned into dates here: 1697-2242, well inside pandas' nanosecond range.
_EPOCH_RANGE = 2**33
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ISO-8601 spellings read with datetime.fromisoformat (the same instant as pandas' ISO8601
#: parser, pinned by tests); any other text goes through _parse_timestamps.
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                  r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                  r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]{1,15}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?=[0-9.]{1,16}$)[0-9]*\.?[0-9]+", re.ASCII)


class RowwiseUnsupported(Exception):
    """A value :func:`validate_rows` does not decide itself; validate the batch with
    :func:`validate_events` instead (the fast path's fallback, never an error for a caller)."""


@dataclass
class RowValidation:
    """:class:`ValidationReport` for a few rows: the valid ones as canonical dicts."""

    #: Valid rows in canonical form: the :data:`EVENT_COLUMNS` keys in order; text
    #: stripped (``None`` when blank), ``timestamp`` a UTC ``datetime`` (microseconds),
    #: ``price`` a ``float`` and ``quantity`` an ``int`` (or ``None``).
    valid: list[dict[str, Any]]
    #: For each valid row, its 0-based position in the batch.
    positions: list[int]
    rejections: list[Rejection]
    n_input: int


def _column_kind(rows: list[Mapping[str, Any]], name: str) -> str:
    """The dtype pandas gives column ``name`` when it builds a frame of ``rows``.

    It matters for what a reason shows: an integer in a column that also holds a float or
    a gap is read as a float (``5`` shows as ``'5.0'``). One of ``"int"``, ``"float"``,
    ``"str"`` (text and gaps) or ``"object"`` (text and numbers).
    """
    has_text = has_number = has_other = False
    for row in rows:
        value = row.get(name, _ABSENT)
        if isinstance(value, str):
            has_text = True
        elif isinstance(value, bool) or (
                not isinstance(value, int | float | None) and value is not _ABSENT):
            raise RowwiseUnsupported(f"{name} of type {type(value).__name__}")
        elif isinstance(value, int | float):
            has_number = True
            has_other = has_other or isinstance(value, float)
        else:
            has_other = True
    if has_text:
        return "object" if has_number else "str"
    return "float" if has_other else "int"


_KIND_COLUMNS = ("timestamp", "price", "quantity")


def _column_kinds(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """:func:`_column_kind` of the ``timestamp``, ``price`` and ``quantity`` columns in one pass.

    Three passes over a write group of 500 rows, each through an isinstance chain, were a
    sixth of the writer's validation. Here each value's exact class is tested once; a
    value of any other class (a ``bool``, a subclass, an object) sends the batch to the
    three :func:`_column_kind` calls, which raise the same :class:`RowwiseUnsupported`.
    """
    text = [False, False, False]
    number = [False, False, False]
    other = [False, False, False]
    for row in rows:
        for i, name in enumerate(_KIND_COLUMNS):
            value = row.get(name, _ABSENT)
            cls = value.__class__
            if cls is str:
                text[i] = True
            elif cls is int:
                number[i] = True
            elif cls is float:
                number[i] = other[i] = True
            elif value is _ABSENT or value is None:
                other[i] = True
            else:
                return {name: _column_kind(rows, name) for name in _KIND_COLUMNS}
    return {name: ("object" if number[i] else "str") if text[i] else ("float" if other[i] else "int")
            for i, name in enumerate(_KIND_COLUMNS)}


def _raw(row: Mapping[str, Any], name: str, kind: str) -> Any:
    """The field's value as pandas holds it in its column (None for a gap)."""
    value = row.get(name, _ABSENT)
    if value is _ABSENT or value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, int):
        if abs(value) > _EXACT:
            raise RowwiseUnsupported(f"{name} {value} is beyond a float's exact integers")
        return float(value) if kind == "float" else value
    return value


def _text(row: Mapping[str, Any], name: str) -> tuple[Any, str | None]:
    """A text field as given and canonical (stripped; blank is missing)."""
    value = row.get(name, _ABSENT)
    if value.__class__ is str:  # the usual case first: one class test, no isinstance chain
        return value, value.strip() or None
    if value is _ABSENT or value is None:
        return None, None
    if not isinstance(value, str):
        # pandas reads a number among ids by the column's dtype ("5" or "5.0"): let it.
        raise RowwiseUnsupported(f"{name} of type {type(value).__name__}")
    text = value.strip()  # the same characters as pyarrow's trim, checked over all of Unicode
    return value, text or None


def _number(value: Any, kind: str) -> float | int | None:
    """``pd.to_numeric(errors="coerce")`` of one raw value (None for NaN)."""
    if not isinstance(value, str):
        return value
    if _INTEGER.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        return float(value)  # at most 15 digits: pandas reads them as float() does (tests pin it)
    parsed = pd.to_numeric(pd.Series([value], dtype=object if kind == "object" else None),
                           errors="coerce").iloc[0]
    return None if pd.isna(parsed) else parsed.item() if hasattr(parsed, "item") else parsed


def _iso_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a day or hour that does not exist: pandas words the verdict
        return None


def _timestamp(value: Any, kind: str) -> datetime | pd.Timestamp | None:
    """One raw ``timestamp`` as :func:`_parse_timestamps` reads it (None for NaT)."""
    seconds = value
    if isinstance(value, str):
        parsed = _iso_date(value) if _ISO.fullmatch(value) else None
        if parsed is not None:
            if 1900 <= parsed.year <= 2200:
                return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None
                        else parsed.astimezone(UTC))
        elif _INTEGER.fullmatch(value):
            seconds = int(value)
    if (isinstance(seconds, int | float) and abs(seconds) <= _EPOCH_RANGE
            and float(seconds).is_integer()):
        return _EPOCH + timedelta(seconds=int(seconds))
    if isinstance(value, str):
        one = pd.Series([value], dtype=object if kind == "object" else None)
    elif isinstance(value, float):  # pandas reads a column holding a float as float64
        one = pd.Series([value], dtype="float64")
    elif kind == "object":
        raise RowwiseUnsupported(f"timestamp {value!r} among text: its column's dtype decides it")
    else:
        one = pd.Series([value], dtype="int64")
    parsed = _parse_timestamps(one).iloc[0]
    if pd.isna(parsed):
        return None
    # A date past Python's year 9999 is only ever rejected (out of range): keep pandas' value.
    return parsed.to_pydatetime() if _EARLIEST <= parsed < _LATEST else parsed


def _check_timestamp(n: int, value: Any, kind: str, rejections: list[Rejection],
                     clock: datetime | None, max_future_skew_s: float | None
                     ) -> datetime | pd.Timestamp | None:
    """:func:`_check_timestamps` for one row."""
    if value is None or isinstance(value, str) and not value.strip():
        rejections.append(Rejection(n, "timestamp", _shown(value), _MISSING))
        return None
    timestamp = _timestamp(value, kind)
    if timestamp is None:
        rejections.append(Rejection(n, "timestamp", _shown(value), _NOT_A_DATE))
    elif not _EARLIEST <= timestamp < _LATEST:
        rejections.append(Rejection(n, "timestamp", _shown(value), _OUT_OF_RANGE))
    elif clock is not None and max_future_skew_s is not None:
        ahead = (timestamp - clock).total_seconds()
        if ahead > max_future_skew_s:
            rejections.append(Rejection(n, "timestamp", str(value),
                                        _future_reason(ahead, max_future_skew_s)))
    return timestamp


def _check_event_type(n: int, row: Mapping[str, Any], rejections: list[Rejection]) -> str | None:
    """:func:`_check_event_types` for one row: the canonical type (None when missing)."""
    raw, text = _text(row, "event_type")
    if text is None:
        rejections.append(Rejection(n, "event_type", _shown(raw), _MISSING))
        return None
    # Python and pyarrow lower-case a few non-ASCII letters differently ("İ"): ask pandas.
    lowered = text.lower() if text.isascii() else _event_type_text(pd.Series([raw])).iloc[0]
    event_type = EVENT_TYPE_ALIASES.get(lowered, lowered)
    if event_type not in _KNOWN_TYPES:
        rejections.append(Rejection(n, "event_type", _shown(raw), _NOT_AN_EVENT_TYPE))
    return event_type


def _check_number(n: int, name: str, value: Any, kind: str,
                  rejections: list[Rejection]) -> float | int | None:
    """A ``price`` or ``quantity`` as a number; "is not a number" when text is not one."""
    if value is None or isinstance(value, str) and not value.strip():
        return None
    number = _number(value, kind)
    if number is None:
        rejections.append(Rejection(n, name, _shown(value), _NOT_A_NUMBER))
    return number


def _check_row_price(n: int, value: Any, kind: str, rejections: list[Rejection]) -> float | None:
    """:func:`_check_price` for one row."""
    price = _check_number(n, "price", value, kind, rejections)
    if price is None:
        return None
    if not math.isfinite(price):
        rejections.append(Rejection(n, "price", _shown(value), _NOT_FINITE))
    if price < 0:
        rejections.append(Rejection(n, "price", _shown(value), _NEGATIVE))
    return float(price)


def _check_row_quantity(n: int, value: Any, kind: str, rejections: list[Rejection]) -> int | None:
    """:func:`_check_quantity` for one row."""
    quantity = _check_number(n, "quantity", value, kind, rejections)
    if quantity is None:
        return None
    if not abs(quantity) <= MAX_QUANTITY:
        rejections.append(Rejection(n, "quantity", _shown(value), _TOO_LARGE))
        return None
    if quantity != round(quantity):
        rejections.append(Rejection(n, "quantity", _shown(value), _NOT_WHOLE))
    elif quantity < 1:
        rejections.append(Rejection(n, "quantity", _shown(value), _BELOW_ONE))
    return int(round(quantity))


_SEARCH = EventType.SEARCH.value
_EARLIEST_DT = _EARLIEST.to_pydatetime()
_LATEST_DT = _LATEST.to_pydatetime()
_OPTIONAL_TEXT = ("event_id", "session_id", "category_id")


class _PlainLane:
    """The valid row of the usual shape, canonicalised in one call; ``None`` for any other row.

    The general loop of :func:`validate_rows` spends about twenty Python calls on a row
    (seven text fields, the timestamp through three helpers, the number checks), the larger
    part of the log writer's CPU. A row whose every field is of the usual shape -- text ids,
    a known event type, an ISO-8601 date or unix seconds (an integer or digits), no price or a plain finite
    one, no quantity or a whole one -- is decided here with the same rules, inline; any
    other row (a gap where a value is required, a date to parse, a value to reject) returns
    ``None`` and takes the general loop, so every rejection is still worded there. The
    canonical dict equals the general loop's (``tests/schema/test_validate_rows_plain.py``
    compares both on real Taobao rows and on generated ones).
    """

    __slots__ = ("_ts_kind", "_price_kind", "_quantity_kind", "_clock", "_skew", "_types")

    def __init__(self, kinds: Mapping[str, str], clock: datetime | None,
                 max_future_skew_s: float | None) -> None:
        self._ts_kind = kinds["timestamp"]
        self._price_kind = kinds["price"]
        self._quantity_kind = kinds["quantity"]
        self._clock = clock if max_future_skew_s is not None else None
        self._skew = max_future_skew_s
        #: raw event type -> canonical known type, or None when the general loop decides it.
        self._types: dict[str, str | None] = {}

    def _event_type(self, raw: str) -> str | None:
        known = self._types.get(raw, _ABSENT)
        if known is _ABSENT:
            text = raw.strip()
            known = None
            if text and text.isascii():
                lowered = text.lower()
                event_type = EVENT_TYPE_ALIASES.get(lowered, lowered)
                known = event_type if event_type in _KNOWN_TYPES else None
            self._types[raw] = known
        return known  # type: ignore[return-value]

    def row(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """The canonical dict of ``row`` when it is valid and of the usual shape, else None."""
        user = row.get("user_id")
        raw_type = row.get("event_type")
        if user.__class__ is not str or raw_type.__class__ is not str:
            return None
        user_id = user.strip()
        event_type = self._event_type(raw_type)
        if not user_id or event_type is None:
            return None
        # Timestamp: ISO-8601 text or unix seconds, as the general loop reads them (_raw,
        # _timestamp); text is read alike in every column kind, a number only in an int column.
        value = row.get("timestamp")
        if value.__class__ is str:
            if _ISO.fullmatch(value):
                parsed = _iso_date(value)
                if parsed is None or not 1900 <= parsed.year <= 2200:
                    return None
                timestamp = (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None
                             else parsed.astimezone(UTC))
            elif _INTEGER.fullmatch(value):
                seconds = int(value)
                if not -_EPOCH_RANGE <= seconds <= _EPOCH_RANGE:
                    return None
                timestamp = _EPOCH + timedelta(seconds=seconds)
            else:
                return None
        elif value.__class__ is int and self._ts_kind == "int" and -_EPOCH_RANGE <= value <= _EPOCH_RANGE:
            timestamp = _EPOCH + timedelta(seconds=value)
        else:
            return None
        if not _EARLIEST_DT <= timestamp < _LATEST_DT:
            return None
        if self._clock is not None and (timestamp - self._clock).total_seconds() > self._skew:
            return None
        texts: list[str | None] = []
        for name in ("item_id", "query", *_OPTIONAL_TEXT):
            value = row.get(name)
            if value is None:
                texts.append(None)
            elif value.__class__ is str:
                texts.append(value.strip() or None)
            else:
                return None
        item_id, query, event_id, session_id, category_id = texts
        if item_id is None and event_type in _ITEM_TYPES or query is None and event_type == _SEARCH:
            return None
        price = row.get("price")
        if price is not None:
            if price.__class__ is float:
                if not (math.isfinite(price) and price >= 0):  # NaN fails too
                    return None
            elif price.__class__ is not int or not 0 <= price <= _EXACT:
                return None
            price = float(price)
        quantity = row.get("quantity")
        if quantity is not None and (quantity.__class__ is not int or not 1 <= quantity <= _EXACT):
            return None
        return {"event_id": event_id, "user_id": user_id, "session_id": session_id,
                "timestamp": timestamp, "event_type": event_type, "item_id": item_id,
                "category_id": category_id, "query": query, "price": price,
                "quantity": quantity}


def validate_rows(rows: Sequence[Mapping[str, Any]], *,
                  max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
                  now: datetime | pd.Timestamp | None = None) -> RowValidation:
    """:func:`validate_events` for a few dicts, row by row: the same valid rows and rejections.

    For small batches (a request of a few events), where building a table costs more
    than the checks. Every rule and reason is :func:`validate_events`' own; the valid
    rows come back as canonical dicts (see :attr:`RowValidation.valid`) instead of a
    frame. Raises :class:`RowwiseUnsupported` when the batch holds a value whose outcome
    only the table can decide (a non-text id, a ``bool``, an integer beyond 2**53, a
    quantity no count can hold): validate such a batch with :func:`validate_events`.
    """
    for row in rows:
        if not isinstance(row, Mapping):
            raise RowwiseUnsupported(f"a {type(row).__name__} row")
    if rows and not any(rows):
        # pandas builds a frame of no rows from dicts without keys: the table's verdict.
        raise RowwiseUnsupported("every row is empty")
    clock: datetime | None = None
    if max_future_skew_s is not None:
        clock = _clock(now, max_future_skew_s)
    kinds = _column_kinds(rows)
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    rejections: list[Rejection] = []
    ts_kind = kinds["timestamp"]
    plain = _PlainLane(kinds, clock, max_future_skew_s)
    for position, row in enumerate(rows):
        canonical = plain.row(row)
        if canonical is not None:
            positions.append(position)
            valid.append(canonical)
            continue
        n = position + 1
        found: list[Rejection] = []
        user_raw, user_id = _text(row, "user_id")
        if user_id is None:
            found.append(Rejection(n, "user_id", _shown(user_raw), _MISSING))
        timestamp = _check_timestamp(n, _raw(row, "timestamp", ts_kind), ts_kind, found,
                                     clock, max_future_skew_s)
        event_type = _check_event_type(n, row, found)
        item_raw, item_id = _text(row, "item_id")
        if item_id is None and event_type in _ITEM_TYPES:
            found.append(Rejection(n, "item_id", _shown(item_raw), _NO_ITEM))
        query_raw, query = _text(row, "query")
        if query is None and event_type == _SEARCH:
            found.append(Rejection(n, "query", _shown(query_raw), _NO_QUERY))
        price = _check_row_price(n, _raw(row, "price", kinds["price"]), kinds["price"], found)
        quantity = _check_row_quantity(n, _raw(row, "quantity", kinds["quantity"]),
                                       kinds["quantity"], found)
        event_id = _text(row, "event_id")[1]
        session_id = _text(row, "session_id")[1]
        category_id = _text(row, "category_id")[1]
        if found:
            found.sort(key=lambda r: r.field)
            rejections.extend(found)
            continue
        positions.append(position)
        valid.append({"event_id": event_id, "user_id": user_id, "session_id": session_id,
                      "timestamp": timestamp, "event_type": event_type, "item_id": item_id,
                      "category_id": category_id, "query": query, "price": price,
                      "quantity": quantity})
    return RowValidation(valid, positions, rejections, len(rows))
