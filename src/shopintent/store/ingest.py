"""The one ingest path: validate → keyed ids, pseudonymise and scrub → append to the store.

Every way raw events enter shopintent (a file, a data-set loader, the HTTP API,
a raw message on a stream) goes through :func:`ingest_events`, so privacy is
never skipped and every rejected row is counted with its reason. Its first two
steps are :func:`prepare_events`, which the service also uses to protect events
*before* they are put on a stream.

Rows that were protected before -- a message the service itself published to a
stream, a shopintent Parquet export -- come back through
:func:`ingest_protected`: validated again, checked to hold pseudonyms (never raw
ids), their free text scrubbed again (idempotent), and appended without being
pseudonymised twice. It is for those two callers only. The service's own store sink
appends the records its log writer prepared with :func:`prepare_records` and still holds
in memory through :func:`ingest_own_records`, without that second check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent.privacy import EVENT_ID_LENGTH, Pseudonymizer, protect_events, scrub_text_columns
from shopintent.log import get_logger
from shopintent.privacy.event_ids import CLIENT_ID_NAMESPACE
from shopintent.privacy.events import TEXT_COLUMNS, protect_rows
from shopintent.privacy.scrub import scrub_value
from shopintent.schema import Event
from shopintent.schema.validation import (
    DEFAULT_MAX_FUTURE_SKEW_S,
    EVENT_COLUMNS,
    Rejection,
    RowwiseUnsupported,
    ValidationReport,
    validate_events,
    validate_rows,
)
from shopintent.store.event_store import EventStore, records_table

log = get_logger(__name__)

Batch = pd.DataFrame | Iterable[Mapping[str, Any] | Event]

#: What a protected row's ids look like (prefix + hex digits of a keyed HMAC).
_PSEUDONYM_SHAPES: dict[str, re.Pattern[str]] = {
    "event_id": re.compile(r"e_[0-9a-f]{8,64}"),
    "user_id": re.compile(r"u_[0-9a-f]{8,64}"),
    "session_id": re.compile(r"s_[0-9a-f]{8,64}"),
}

#: File suffixes :func:`read_event_file` understands.
EVENT_FILE_FORMATS: tuple[str, ...] = (".csv", ".parquet", ".jsonl", ".ndjson")


@dataclass
class IngestReport:
    """What happened to one batch: how many came, were kept, stored, and why others were not."""

    input: int
    accepted: int
    rejected: int
    appended: int
    duplicates: int
    rejections: list[Rejection] = field(default_factory=list)
    #: Per input row: the keyed id it was stored under (or found a duplicate of); for a
    #: rejected row the keyed id of the client's ``event_id`` if it gave one, else None.
    event_ids: list[str | None] = field(default_factory=list, repr=False)

    def as_dict(self, max_reasons: int = 20) -> dict[str, Any]:
        return {
            "input": self.input,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "reasons": [str(r) for r in self.rejections[:max_reasons]],
        }


@dataclass
class PreparedEvents:
    """A batch made safe to store or publish: validated, with keyed ids, protected."""

    report: ValidationReport
    #: The valid rows, protected (pseudonyms, keyed ``event_id``, scrubbed text).
    protected: pd.DataFrame
    #: For each protected row, its 0-based position in the input batch.
    positions: np.ndarray
    #: Per input row, as :attr:`IngestReport.event_ids`.
    event_ids: list[str | None]


def _materialise(batch: Batch) -> pd.DataFrame | list[Mapping[str, Any] | Event]:
    # A generator would be used up by validation; rejected rows are looked up again.
    return batch if isinstance(batch, pd.DataFrame) else list(batch)


def _given_id(batch: pd.DataFrame | list[Mapping[str, Any] | Event], position: int) -> str | None:
    if isinstance(batch, pd.DataFrame):
        value = batch["event_id"].iloc[position] if "event_id" in batch.columns else None
    else:
        record = batch[position]
        value = record.event_id if isinstance(record, Event) else record.get("event_id")
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _kept_positions(report: ValidationReport) -> np.ndarray:
    rejected = np.array(report.rejected_rows, dtype=np.int64) - 1
    return np.setdiff1d(np.arange(report.n_input, dtype=np.int64), rejected)


def prepare_events(batch: Batch, pseudonymizer: Pseudonymizer,
                   groups: Sequence[int] | np.ndarray | None = None, *,
                   max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S) -> PreparedEvents:
    """Validate a raw batch and protect its valid rows: the steps before storing or publishing.

    ``groups`` labels the request each row came in (see
    :func:`shopintent.privacy.event_ids.keyed_event_ids`); without it the batch is one
    request. ``max_future_skew_s`` as in
    :func:`~shopintent.schema.validation.validate_events` (callers pass
    ``Settings.max_future_skew_s``).
    """
    rows = _materialise(batch)
    report = validate_events(rows, max_future_skew_s=max_future_skew_s)
    positions = _kept_positions(report)
    if groups is not None and len(groups) != report.n_input:
        raise ValueError(f"groups has {len(groups)} labels for {report.n_input} events")
    valid_groups = None if groups is None else np.asarray(groups)[positions]
    protected = protect_events(report.valid, pseudonymizer, groups=valid_groups)
    ids: list[str | None] = [None] * report.n_input
    for position, event_id in zip(positions.tolist(), protected["event_id"].tolist(), strict=True):
        ids[position] = event_id
    for row in report.rejected_rows:
        given = _given_id(rows, row - 1)
        if given is not None:
            ids[row - 1] = pseudonymizer.pseudonymize(given, CLIENT_ID_NAMESPACE,
                                                      length=EVENT_ID_LENGTH)
    return PreparedEvents(report, protected, positions, ids)


@dataclass
class PreparedRecords:
    """A raw batch made safe to publish: its valid rows protected, as JSON-ready records.

    ``records`` are exactly what :func:`protected_records` makes of
    :attr:`PreparedEvents.protected` (the service puts them on its event log and
    the store sink appends them), so every path stores byte-identical rows.
    """

    records: list[dict[str, Any]]
    #: For each record, its 0-based position in the input batch.
    positions: list[int]
    #: Per input row, as :attr:`IngestReport.event_ids`.
    event_ids: list[str | None]
    rejections: list[Rejection]
    n_input: int


#: Batches with fewer rows than this take the row-wise path of :func:`prepare_records`
#: (and of :func:`prepare_protected`, the store sink's check of a round).
#: A table costs a fixed tens of milliseconds of pandas work per batch, the rows about the
#: same per row either way, so the row-wise path wins by far for a request and stays
#: ahead into the thousands: in CPU it was the cheaper one at every size measured, 3,000
#: rows 98.742 vs 244.167 ms and 10,000 rows 423.931 vs 557.986 ms on a busy machine
#: (`shopintent bench ingest`, benchmarks/results/ingest.json, ``crossover_per_call``). So the table path is kept for
#: frames and for batches from the API's 10,000-event limit up (merged write groups, a
#: sink round catching up), where the costs meet.
FAST_PATH_MAX_ROWS = 10_000


def prepare_records(batch: Sequence[Mapping[str, Any]], pseudonymizer: Pseudonymizer,
                    groups: Sequence[int] | np.ndarray | None = None, *,
                    max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S) -> PreparedRecords:
    """Validate and protect raw events for the event log: :func:`prepare_events` as records.

    A batch of fewer than :data:`FAST_PATH_MAX_ROWS` dicts is prepared row by row
    (:func:`~shopintent.schema.validation.validate_rows`,
    :func:`~shopintent.privacy.events.protect_rows`), a bigger one as a table; both
    give byte-identical records, ids and rejections. A small batch holding a value only
    the table decides (see :class:`~shopintent.schema.validation.RowwiseUnsupported`)
    is prepared as a table too. ``groups`` and ``max_future_skew_s`` as in
    :func:`prepare_events`.
    """
    if not isinstance(batch, pd.DataFrame):
        batch = list(batch)
        if len(batch) < FAST_PATH_MAX_ROWS:
            try:
                return _prepare_rows(batch, pseudonymizer, groups, max_future_skew_s)
            except RowwiseUnsupported as why:
                log.debug("row-wise path declined", reason=str(why)[:200])
    prepared = prepare_events(batch, pseudonymizer, groups, max_future_skew_s=max_future_skew_s)
    return PreparedRecords(protected_records(prepared.protected), prepared.positions.tolist(),
                           prepared.event_ids, prepared.report.rejections, prepared.report.n_input)


def _prepare_rows(rows: list[Mapping[str, Any]], pseudonymizer: Pseudonymizer,
                  groups: Sequence[int] | np.ndarray | None,
                  max_future_skew_s: float | None) -> PreparedRecords:
    """The row-wise branch of :func:`prepare_records`, step for step :func:`prepare_events`."""
    checked = validate_rows(rows, max_future_skew_s=max_future_skew_s)
    if groups is not None and len(groups) != checked.n_input:
        raise ValueError(f"groups has {len(groups)} labels for {checked.n_input} events")
    valid_groups = None if groups is None else [groups[p] for p in checked.positions]
    protected = protect_rows(checked.valid, pseudonymizer, groups=valid_groups)
    ids: list[str | None] = [None] * checked.n_input
    for position, record in zip(checked.positions, protected, strict=True):
        ids[position] = record["event_id"]
        record["timestamp"] = _timestamp_text(record["timestamp"])
    for row in sorted({r.row for r in checked.rejections}):
        given = _given_id(rows, row - 1)
        if given is not None:
            ids[row - 1] = pseudonymizer.pseudonymize(given, CLIENT_ID_NAMESPACE,
                                                      length=EVENT_ID_LENGTH)
    return PreparedRecords(protected, checked.positions, ids, checked.rejections, checked.n_input)


def _timestamp_text(timestamp: Any) -> str:
    """A stored timestamp as records carry it: ISO-8601 UTC (``+00:00``), microseconds if any.

    A plain UTC ``datetime`` (the row-wise path) spells itself exactly as pandas spells
    the same instant, in a third of the time.
    """
    if type(timestamp) is datetime:
        return timestamp.isoformat()
    return pd.Timestamp(timestamp).isoformat()


def ingest_events(
    store: EventStore,
    batch: Batch,
    pseudonymizer: Pseudonymizer,
    groups: Sequence[int] | np.ndarray | None = None,
    *,
    max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
) -> IngestReport:
    """Validate a raw batch, give it keyed ids, protect its ids and text, append the valid rows.

    ``store`` is bound to the pseudonymizer's key id first (recorded on first
    write, else checked: :class:`~shopintent.store.event_store.KeyMismatch`).
    ``groups`` and ``max_future_skew_s`` as in :func:`prepare_events`.
    """
    store.bind_key(pseudonymizer.key_id)
    prepared = prepare_events(batch, pseudonymizer, groups, max_future_skew_s=max_future_skew_s)
    return _append_prepared(store, prepared)


def _append_prepared(store: EventStore, prepared: PreparedEvents) -> IngestReport:
    """Append a prepared batch's protected rows and report what became of every input row."""
    report = prepared.report
    appended = store.append(prepared.protected)
    return IngestReport(
        input=report.n_input,
        accepted=report.n_valid,
        rejected=report.n_rejected,
        appended=appended.appended,
        duplicates=appended.duplicates,
        rejections=report.rejections,
        event_ids=prepared.event_ids,
    )


def _not_a_pseudonym(shape: re.Pattern[str]) -> str:
    return (f"is not a pseudonym ({shape.pattern}); raw events go through ingest_events "
            "(`shopintent store ingest`)")


def _not_pseudonyms(frame: pd.DataFrame, positions: np.ndarray) -> tuple[np.ndarray, list[Rejection]]:
    """Rows whose ids are not pseudonyms: a mask over ``frame`` and a rejection for each."""
    bad = np.zeros(len(frame), dtype=bool)
    rejections = []
    for column, shape in _PSEUDONYM_SHAPES.items():
        values = frame[column]
        ok = values.isna() if column == "session_id" else pd.Series(False, index=frame.index)
        ok = ok | values.fillna("").map(lambda v, s=shape: bool(s.fullmatch(v))).astype(bool)
        for i in np.flatnonzero(~ok.to_numpy()):
            # The value is not shown: a row that fails here may hold a raw, personal id.
            rejections.append(Rejection(int(positions[i]) + 1, column, "<hidden>",
                                        _not_a_pseudonym(shape)))
            bad[i] = True
    return bad, rejections


def prepare_protected(
    rows: Batch, *, max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S
) -> PreparedEvents:
    """Check rows protected before (stream messages, exports) and scrub their text again.

    They are validated again; a row whose ``event_id``, ``user_id`` or
    ``session_id`` is not a pseudonym is rejected (a raw id never gets in this
    way, and its value is not shown); free text is scrubbed again (idempotent);
    ids are kept as they are. ``max_future_skew_s`` as in :func:`prepare_events`.
    """
    if not isinstance(rows, pd.DataFrame):
        rows = list(rows)
        if len(rows) < FAST_PATH_MAX_ROWS and all(isinstance(r, Mapping) for r in rows):
            try:
                return _prepare_protected_rows(rows, max_future_skew_s)
            except RowwiseUnsupported as why:
                log.debug("row-wise path declined", reason=str(why)[:200])
    report = validate_events(_materialise(rows), max_future_skew_s=max_future_skew_s)
    positions = _kept_positions(report)
    bad, shape_rejections = _not_pseudonyms(report.valid, positions)
    clean, _ = scrub_text_columns(report.valid[~bad])
    kept = positions[~bad]
    ids: list[str | None] = [None] * report.n_input
    for position, event_id in zip(kept.tolist(), clean["event_id"].tolist(), strict=True):
        ids[position] = event_id
    rejections = sorted([*report.rejections, *shape_rejections], key=lambda r: (r.row, r.field))
    checked = ValidationReport(valid=clean.reset_index(drop=True), rejections=rejections,
                               n_input=report.n_input)
    return PreparedEvents(checked, checked.valid, kept, ids)


def _prepare_protected_rows(rows: list[Mapping[str, Any]],
                            max_future_skew_s: float | None) -> PreparedEvents:
    """The row-wise branch of :func:`prepare_protected` (a store round of a few hundred rows
    costs a fraction of a millisecond per row instead of a fixed tens of milliseconds)."""
    checked = validate_rows(rows, max_future_skew_s=max_future_skew_s)
    kept_rows: list[dict[str, Any]] = []
    kept: list[int] = []
    shape_rejections: list[Rejection] = []
    for position, row in zip(checked.positions, checked.valid, strict=True):
        bad = False
        for column, shape in _PSEUDONYM_SHAPES.items():
            value = row[column]
            if value is None and column == "session_id":
                continue
            if value is None or not shape.fullmatch(value):
                shape_rejections.append(Rejection(position + 1, column, "<hidden>",
                                                  _not_a_pseudonym(shape)))
                bad = True
        if not bad:
            kept_rows.append({**row, **{c: scrub_value(row[c]) for c in TEXT_COLUMNS}})
            kept.append(position)
    clean = pd.DataFrame.from_records(kept_rows, columns=list(EVENT_COLUMNS)).astype(EVENT_COLUMNS)
    ids: list[str | None] = [None] * checked.n_input
    for position, record in zip(kept, kept_rows, strict=True):
        ids[position] = record["event_id"]
    rejections = sorted([*checked.rejections, *shape_rejections], key=lambda r: (r.row, r.field))
    report = ValidationReport(valid=clean, rejections=rejections, n_input=checked.n_input)
    return PreparedEvents(report, clean, np.asarray(kept, dtype=np.int64), ids)


def ingest_protected(store: EventStore, rows: Batch, key_id: str, *,
                     max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S) -> IngestReport:
    """Append rows protected earlier under the key named ``key_id`` (stream messages, imports).

    Only for rows that came out of :func:`prepare_events` / a store: the service's
    own stream messages and shopintent Parquet exports (checked as in
    :func:`prepare_protected`; valid rows are appended, the others reported).
    ``store`` is bound to ``key_id``
    (:class:`~shopintent.store.event_store.KeyMismatch` for a store of another key).
    """
    store.bind_key(key_id)
    prepared = prepare_protected(rows, max_future_skew_s=max_future_skew_s)
    return _append_prepared(store, prepared)


def own_records_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The canonical frame of records :func:`prepare_records` made in this process.

    Such records are canonical already (validated, protected; timestamps as ISO-8601
    UTC text, see :func:`_timestamp_text`), so they only need the table's dtypes:
    the same frame :func:`prepare_protected` would build from them after checking
    them again (``tests/store/test_fast_path.py`` compares both on real rows).
    """
    columns: dict[str, Any] = {}
    for column, dtype in EVENT_COLUMNS.items():  # column by column: no object frame to cast
        values = [record[column] for record in records]
        if column == "timestamp":
            columns[column] = pd.to_datetime(values, format="ISO8601", utc=True).astype(dtype)
        else:
            columns[column] = pd.array(values, dtype=dtype)
    return pd.DataFrame(columns)


def ingest_own_records(store: EventStore, records: Sequence[Mapping[str, Any]],
                       key_id: str) -> IngestReport:
    """Append records this process prepared itself with :func:`prepare_records` under ``key_id``.

    For the service's store sink only: the records are the ones its log writer
    validated and protected and then published, taken from its memory (never from
    the log, which another process could have written), so checking them again as
    :func:`ingest_protected` does would only repeat the writer's work; a round of
    rows read back from the log that this process did not prepare (after a restart,
    from another producer) still goes through :func:`ingest_protected`. The
    appended rows are the same (``tests/store/test_fast_path.py``).
    """
    store.bind_key(key_id)
    table = records_table(records)  # straight to Arrow; None: the frame, as before
    appended = store.append(own_records_frame(records)) if table is None else store.append_table(table)
    return IngestReport(input=len(records), accepted=len(records), rejected=0,
                        appended=appended.appended, duplicates=appended.duplicates,
                        event_ids=[str(r["event_id"]) for r in records])


def protected_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Protected canonical rows as JSON-ready dicts (what the service publishes to a stream).

    Timestamps become ISO-8601 UTC with microseconds, nulls ``None``; reading the
    records back with :func:`ingest_protected` gives the same canonical rows.
    """
    out = frame.astype(object).where(frame.notna(), None)
    records = out.to_dict(orient="records")
    for record in records:
        ts = record.get("timestamp")
        if ts is not None:
            record["timestamp"] = _timestamp_text(ts)
        quantity = record.get("quantity")
        if quantity is not None:
            record["quantity"] = int(quantity)
        price = record.get("price")
        if price is not None:
            record["price"] = float(price)
    return records


def read_event_file(path: Path) -> pd.DataFrame:
    """Read a shop's event log (CSV with header, Parquet or JSON lines) as raw strings/values.

    Columns are named as the canonical event fields (``user_id, item_id,
    event_type, timestamp`` and optional ``session_id, category_id, query,
    price, quantity, event_id``); validation happens in :func:`ingest_events`.
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"event file {path} does not exist")
    if suffix == ".csv":
        return pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    raise ValueError(
        f"event file {path}: unknown format {suffix!r}; use one of {', '.join(EVENT_FILE_FORMATS)}"
    )
