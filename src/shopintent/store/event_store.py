"""The event store: canonical events in an embedded DuckDB database.

Events arrive validated and protected (see :mod:`shopintent.store.ingest`);
the store appends them, idempotently on ``event_id``, numbering each with an
increasing ``seq`` (ingest order, which breaks ties in time) and stamping
``ingested_at``. Sessions, aggregates and sequences are computed on demand by
the portable pipelines of :mod:`shopintent.store.pipelines`, so a store can
always be re-sessionised with another gap. Parquet export/import moves the
same table to Spark, a data lake or another machine.

A store written through the ingest path holds pseudonyms under one key, so it
records that key's id (:attr:`shopintent.privacy.Pseudonymizer.key_id`) in a
small metadata table on first write. Opening it for writing under another key
is refused (:class:`KeyMismatch`): new pseudonyms would never join the old ones
and re-sent events would be stored twice. Exports carry the key id and a
format marker in their Parquet metadata, and an import accepts only a
shopintent export written under the store's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shopintent.log import get_logger
from shopintent.schema.validation import EVENT_COLUMNS
from shopintent.store import pipelines
from shopintent.store.duckdb_engine import DuckDBEngine
from shopintent.store.tables import (
    EVENT_ARROW_SCHEMA,
    EVENT_DTYPES_WITH_SEQ,
    events_to_arrow,
    normalise,
)

log = get_logger(__name__)

TABLE = "events"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id     VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    session_id   VARCHAR,
    timestamp    TIMESTAMPTZ NOT NULL,
    event_type   VARCHAR NOT NULL,
    item_id      VARCHAR,
    category_id  VARCHAR,
    query        VARCHAR,
    price        DOUBLE,
    quantity     BIGINT,
    seq          BIGINT NOT NULL,
    ingested_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
)
"""

META_TABLE = "shopintent_meta"
_CREATE_META = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (
    name   VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
)
"""
_KEY_ID = "pseudonym_key_id"

#: Parquet metadata of an export: the format marker and the key id it was written under.
PARQUET_FORMAT_KEY, PARQUET_FORMAT = "shopintent", "events/1"
PARQUET_KEY_ID_KEY = "shopintent_key_id"

_RAW_FIX = ("re-ingest the raw events through `shopintent store ingest` (which validates, "
            "pseudonymises and scrubs them)")
_KEY_FIX = ("set SHOPINTENT_PSEUDONYM_KEY (or the key file SHOPINTENT_STATE_DIR/pseudonym.key) to "
            "the key this data was written with, or rotate keys: re-ingest the raw events into a "
            "new store under the new key (docs/privacy.md, 'Keys, ids and what is stored')")

# Two 64-bit hashes with different keys give 128-bit local ids (unkeyed stores only).
_HASH_KEYS = ("shopintent-evt-1", "shopintent-evt-2")
_CONTENT_COLUMNS = [c for c in EVENT_COLUMNS if c != "event_id"]


class KeyMismatch(ValueError):
    """Data written under one pseudonym key met a pseudonymizer (or store) of another."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """How many events of a batch were stored, and how many were already there."""

    appended: int
    duplicates: int


def records_table(records: Sequence[Mapping[str, Any]]) -> pa.Table | None:
    """Canonical records with their keyed ids as an Arrow table, built without pandas.

    For the service's store sink: the log writer's records (validated, protected,
    timestamps as ISO-8601 text with their offset, see
    :func:`shopintent.store.ingest.protected_records`). Going through a pandas frame
    (:func:`shopintent.store.ingest.own_records_frame`) and ``Table.from_pandas`` was
    about half of the sink's CPU; here each column goes to Arrow once. ``None`` when a
    record is not of that shape (an id that is not text, a timestamp that is not text,
    a NaN price, a count that is not an integer): the caller then builds the frame, so
    such a record is stored as before. The table equals ``events_to_arrow`` of that
    frame (``tests/store/test_records_table.py``).
    """
    if not records:
        return None
    columns: list[pa.Array] = []
    try:
        for target in EVENT_ARROW_SCHEMA:
            values = [record[target.name] for record in records]
            if target.name == "event_id" and not all(v.__class__ is str for v in values):
                return None  # a missing id: append() gives it or refuses it
            if target.name == "timestamp":
                if not all(v.__class__ is str for v in values):
                    return None
                columns.append(pa.array(values, pa.string()).cast(target.type))
            elif target.name == "price":
                if not all(v is None or v.__class__ in (float, int) and v == v for v in values):
                    return None  # pandas reads NaN as a gap; Arrow would keep it
                columns.append(pa.array(values, target.type))
            elif target.name == "quantity":
                if not all(v is None or v.__class__ is int for v in values):
                    return None
                columns.append(pa.array(values, target.type))
            else:
                if not all(v is None or v.__class__ is str for v in values):
                    return None
                columns.append(pa.array(values, target.type))
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    return pa.Table.from_arrays(columns, schema=EVENT_ARROW_SCHEMA)


def content_event_ids(frame: pd.DataFrame) -> pd.Series:
    """Deterministic local ids (``l_…``) for rows appended to an *unkeyed* store without one.

    Only for stores opened without a key id: in-memory analysis of loader events
    (:func:`sessionise_frame`) and tests. Events that enter through the ingest
    path carry the keyed ids of :func:`shopintent.privacy.event_ids` instead, and a
    keyed store refuses rows without an id. The id hashes the event's content plus
    its occurrence number among identical rows of the batch, so re-sending the
    same batch is a no-op while two genuinely repeated clicks in one batch are
    both kept.
    """
    if frame.empty:
        return pd.Series([], dtype="string", index=frame.index)
    content = frame[_CONTENT_COLUMNS].astype("string").fillna("\x00")
    occurrence = content.groupby(list(content.columns), sort=False, dropna=False).cumcount()
    content = content.assign(_occurrence=occurrence.astype("string"))
    parts = [
        pd.util.hash_pandas_object(content, index=False, hash_key=key).to_numpy() for key in _HASH_KEYS
    ]
    ids = [f"l_{a:016x}{b:016x}" for a, b in zip(parts[0], parts[1], strict=True)]
    return pd.Series(ids, index=frame.index, dtype="string")


class EventStore:
    """Append-only canonical events in DuckDB (a file, or memory by default).

    >>> with EventStore() as store:
    ...     store.count()
    0

    ``key_id`` is the id of the pseudonym key the caller writes under (the ingest
    path and the service pass :attr:`~shopintent.privacy.Pseudonymizer.key_id`): it
    is recorded on first use and checked on every later open, raising
    :class:`KeyMismatch` for a store written under another key. ``EventStore(path)``
    without it is for reading (summaries, sessions, export).

    One store object per thread: DuckDB connections are not shared across threads.
    ``threads`` caps DuckDB's worker threads for this connection (default: one per
    core); the service's store sink sets 1, so a store round never takes the core
    the request path needs.
    """

    def __init__(self, path: Path | str = ":memory:", key_id: str | None = None,
                 threads: int | None = None) -> None:
        self.path = str(path)
        self.connection = duckdb.connect(self.path)
        self._run("SET TimeZone = 'UTC'")
        if threads is not None:
            self._run(f"SET threads = {int(threads)}")
        self._run(_CREATE)
        self._run(_CREATE_META)
        self._engine = DuckDBEngine(self.connection)
        self._seq: int | None = None
        self._key_id: str | None = None
        if key_id is not None:
            try:
                self.bind_key(key_id)
            except BaseException:
                self.connection.close()
                raise

    # -- the pseudonym key ------------------------------------------------------------------
    @property
    def stored_key_id(self) -> str | None:
        """The id of the key this store's pseudonyms were written under (None: never recorded)."""
        rows = self._run(f"SELECT value FROM {META_TABLE} WHERE name = ?", [_KEY_ID])
        return str(rows[0][0]) if rows else None

    @property
    def key_id(self) -> str | None:
        """The key id this store object writes under: bound, else the recorded one."""
        return self._key_id or self.stored_key_id

    def bind_key(self, key_id: str) -> None:
        """Write under the key named ``key_id``: record it on first use, else check it.

        Raises :class:`KeyMismatch` naming the store file, both key ids and the fix
        when the store was written under another key. A store that holds events
        but no key id (written before key ids were recorded) adopts ``key_id``.
        """
        if not isinstance(key_id, str) or not key_id:
            raise ValueError(f"key_id must be a non-empty string, not {key_id!r}")
        if self._key_id == key_id:
            return
        stored = self.stored_key_id
        if stored is None:
            if self.count():
                log.warning("store has events but no pseudonym key id; recording the current key's",
                            store=self.path, key_id=key_id)
            self._run(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [_KEY_ID, key_id])
        elif stored != key_id:
            raise KeyMismatch(
                f"event store {self.path} was written under pseudonym key id {stored}, but the "
                f"configured key has id {key_id}: its pseudonyms would not match. Fix: {_KEY_FIX}"
            )
        self._key_id = key_id

    def last_seq(self) -> int:
        """The highest ``seq`` handed out; read once, then counted here (one writer per file).

        Events appended after this call are exactly ``events_after(last_seq())``.
        """
        if self._seq is None:
            self._seq = int(self._run(f"SELECT COALESCE(MAX(seq), 0) FROM {TABLE}")[0][0])
        return self._seq

    def _run(self, statement: str, parameters: list[object] | None = None) -> list[tuple]:
        """Execute a statement and read its result to the end (DuckDB 2 requires it)."""
        return self.connection.execute(statement, parameters or []).fetchall()

    # -- writing --------------------------------------------------------------------------
    def append(self, events: pd.DataFrame) -> AppendResult:
        """Append validated, protected canonical events; skip ids already stored.

        Events reach a keyed store through :mod:`shopintent.store.ingest`, which gives
        each its keyed id; a keyed store refuses rows without one. In an unkeyed
        store (analysis, tests) a row without an ``event_id`` gets a local id
        (:func:`content_event_ids`). One statement, so a batch lands whole or not
        at all. Keep one writing ``EventStore`` per database file: it numbers
        ``seq`` itself. Returns how many rows were new and how many were
        duplicates (within the batch or of stored events).
        """
        if events.empty:
            return AppendResult(0, 0)
        frame = events.reset_index(drop=True)
        missing_ids = frame["event_id"].isna()
        if missing_ids.any():
            if self.key_id is not None:
                first = int(missing_ids.to_numpy().nonzero()[0][0]) + 1
                raise ValueError(
                    f"row {first}: `event_id` is missing; events enter a keyed store through "
                    "shopintent.store.ingest, which gives each its keyed id"
                )
            frame = frame.copy()
            frame.loc[missing_ids, "event_id"] = content_event_ids(frame[missing_ids])
        first = ~frame["event_id"].duplicated(keep="first")
        unique = frame[first.to_numpy()]
        return self._insert(events_to_arrow(unique), len(frame))

    def append_table(self, table: pa.Table) -> AppendResult:
        """:meth:`append` for a table of :func:`records_table` (every row has its keyed id).

        The same rows are stored as :meth:`append` stores from the frame of the same
        records: the first row of each id within the batch, then ``INSERT OR IGNORE``.
        """
        if table.num_rows == 0:
            return AppendResult(0, 0)
        ids = table.column("event_id").to_pylist()
        if any(i is None for i in ids):
            raise ValueError("append_table needs every row's `event_id`; use append() for others")
        seen: set[str] = set()
        first = [i for i, event_id in enumerate(ids) if not (event_id in seen or seen.add(event_id))]
        unique = table if len(first) == len(ids) else table.take(first)
        return self._insert(unique, len(ids))

    def _insert(self, table: pa.Table, n_input: int) -> AppendResult:
        """Number the canonical rows of ``table`` and insert the ones not stored yet."""
        base = self.last_seq()
        table = table.append_column("seq", pa.array(range(base + 1, base + 1 + table.num_rows), pa.int64()))
        columns = ", ".join([*EVENT_COLUMNS, "seq"])
        self.connection.register("_incoming", table)
        try:
            # The primary-key index answers "already stored?" per row: cost grows with
            # the batch, not with the store.
            rows = self._run(
                f"INSERT OR IGNORE INTO {TABLE} ({columns}) SELECT {columns} FROM _incoming ORDER BY seq"
            )
        finally:
            self.connection.unregister("_incoming")
        self._seq = base + table.num_rows
        appended = int(rows[0][0]) if rows else 0
        result = AppendResult(appended=appended, duplicates=n_input - appended)
        log.debug("events appended", appended=result.appended, duplicates=result.duplicates)
        return result

    def import_parquet(self, path: Path | str) -> AppendResult:
        """Append the events of a Parquet file written by :meth:`export_parquet`.

        Only a shopintent export written under this store's pseudonym key is
        accepted; any other file (a foreign Parquet file, an export under another
        key or from before key ids) raises ``ValueError`` naming the file and the
        fix. The rows are validated again and their free text scrubbed again
        (idempotent: an old export cannot bring raw text in); their ids are
        pseudonyms already and are kept. Invalid rows raise ``ValueError`` naming
        row and field, because an export is expected to be clean.
        """
        # Imported here: the ingest module builds on this one.
        from shopintent.store.ingest import prepare_protected

        source = Path(path)
        expected = self.key_id
        if expected is None:
            raise ValueError(f"cannot import {source}: this store has no pseudonym key id; open it "
                             "with EventStore(path, key_id=Pseudonymizer.from_settings().key_id)")
        self.bind_key(check_export(source, expected))
        prepared = prepare_protected(pd.read_parquet(source))
        report = prepared.report
        if report.rejections:
            shown = "; ".join(str(r) for r in report.rejections[:5])
            raise ValueError(f"{source}: {report.n_rejected} invalid row(s), nothing imported: {shown}")
        return self.append(prepared.protected)

    # -- reading --------------------------------------------------------------------------
    def count(self) -> int:
        """Number of stored events."""
        return int(self._run(f"SELECT COUNT(*) FROM {TABLE}")[0][0])

    def events(self) -> pd.DataFrame:
        """All stored events in ingest order (canonical columns plus ``seq``)."""
        return self.events_after(0)

    def events_after(self, seq: int, upto: int | None = None) -> pd.DataFrame:
        """Stored events with ``seq`` above ``seq`` (and at most ``upto``, when given), in ingest order:
        what an append added."""
        columns = ", ".join([*EVENT_COLUMNS, "seq"])
        bound = "" if upto is None else f" AND seq <= {int(upto)}"
        frame = self._engine.sql(f"SELECT {columns} FROM {TABLE} WHERE seq > {int(seq)}{bound} ORDER BY seq")
        return normalise(frame, EVENT_DTYPES_WITH_SEQ)

    def export_parquet(self, path: Path | str) -> int:
        """Write every event (canonical columns plus ``seq``) to Parquet; returns the count.

        The file's metadata holds the format marker and the store's pseudonym key
        id (when it has one), which :meth:`import_parquet` checks.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = ", ".join([*EVENT_COLUMNS, "seq"])
        key_id = self.key_id
        metadata = f"{PARQUET_FORMAT_KEY}: ?" + (f", {PARQUET_KEY_ID_KEY}: ?" if key_id else "")
        self._run(
            f"COPY (SELECT {columns} FROM {TABLE} ORDER BY seq) TO ? "
            f"(FORMAT parquet, KV_METADATA {{{metadata}}})",
            [str(target), PARQUET_FORMAT, *([key_id] if key_id else [])],
        )
        return self.count()

    def engine(self) -> DuckDBEngine:
        """The DuckDB engine over this store; the table is named ``events``."""
        return self._engine

    def sessions(self, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES) -> pd.DataFrame:
        """Every event with its derived session (see :func:`pipelines.sessionise`)."""
        return pipelines.sessionise(self._engine, TABLE, gap_minutes)

    def session_aggregates(self, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES) -> pd.DataFrame:
        """One row of counts per session (see :func:`pipelines.session_aggregates`)."""
        return pipelines.session_aggregates(self._engine, TABLE, gap_minutes)

    def sequences(self, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES) -> pd.DataFrame:
        """Each session's events in order (see :func:`pipelines.session_sequences`)."""
        return pipelines.session_sequences(self._engine, TABLE, gap_minutes)

    def top_categories(self, top: int = 10) -> pd.DataFrame:
        """The most active categories (see :func:`pipelines.top_categories`)."""
        return pipelines.top_categories(self._engine, TABLE, top)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (a file store is durable after every append)."""
        self.connection.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_export(path: Path, key_id: str) -> str:
    """Check that ``path`` is a shopintent export written under ``key_id``; return its key id.

    Raises ``ValueError`` (:class:`KeyMismatch` for another key) naming the file
    and the fix.
    """
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path} is not a Parquet file ({exc}); only files written by "
                         f"`shopintent store export` can be imported. Fix: {_RAW_FIX}") from None
    marker = metadata.get(PARQUET_FORMAT_KEY.encode(), b"").decode("utf-8", "replace")
    if marker != PARQUET_FORMAT:
        found = f"format marker {marker!r}" if marker else "no shopintent format marker"
        raise ValueError(f"{path} is not a shopintent event export ({found}; expected "
                         f"{PARQUET_FORMAT!r}); its rows may hold raw ids or text. Fix: {_RAW_FIX}")
    file_key = metadata.get(PARQUET_KEY_ID_KEY.encode(), b"").decode("utf-8", "replace")
    if not file_key:
        raise KeyMismatch(f"{path} carries no pseudonym key id (exported from a store without "
                          f"one), so its pseudonyms cannot be checked against this store's key "
                          f"id {key_id}. Fix: {_RAW_FIX}")
    if file_key != key_id:
        raise KeyMismatch(f"{path} was exported under pseudonym key id {file_key}, but this store's "
                          f"key id is {key_id}: its pseudonyms would not match. Fix: {_RAW_FIX} "
                          f"under the current key, or {_KEY_FIX}")
    return file_key


def sessionise_frame(events: pd.DataFrame, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES) -> pd.DataFrame:
    """Sessionise a validated canonical event frame without keeping a store (in memory).

    Handy for models that read a loader's events directly; ``seq`` is the
    frame's row order.
    """
    with EventStore() as store:
        store.append(events.assign(event_id=events["event_id"].astype("string")))
        return store.sessions(gap_minutes)
