"""The event store: canonical events in an embedded DuckDB database.

Events arrive validated and protected (see :mod:`shopintent.store.ingest`);
the store appends them, idempotently on ``event_id``, numbering each with an
increasing ``seq`` (ingest order, which breaks ties in time) and stamping
``ingested_at``. Sessions, aggregates and sequences are computed on demand by
the portable pipelines of :mod:`shopintent.store.pipelines`, so a store can
always be re-sessionised with another gap. Parquet export/import moves the
same table to Spark, a data lake or another machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd
import pyarrow as pa

from shopintent.log import get_logger
from shopintent.schema.validation import EVENT_COLUMNS, validate_events
from shopintent.store import pipelines
from shopintent.store.duckdb_engine import DuckDBEngine
from shopintent.store.tables import EVENT_DTYPES_WITH_SEQ, events_to_arrow, normalise

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

# Two 64-bit hashes with different keys give 128-bit content ids.
_HASH_KEYS = ("shopintent-evt-1", "shopintent-evt-2")
_CONTENT_COLUMNS = [c for c in EVENT_COLUMNS if c != "event_id"]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """How many events of a batch were stored, and how many were already there."""

    appended: int
    duplicates: int


def content_event_ids(frame: pd.DataFrame) -> pd.Series:
    """Deterministic ids for events that came without one.

    The id hashes the event's content plus its occurrence number among
    identical rows of the batch, so re-sending the same batch is a no-op while
    two genuinely repeated clicks in one batch are both kept.
    """
    if frame.empty:
        return pd.Series([], dtype="string", index=frame.index)
    content = frame[_CONTENT_COLUMNS].astype("string").fillna("\x00")
    occurrence = content.groupby(list(content.columns), sort=False, dropna=False).cumcount()
    content = content.assign(_occurrence=occurrence.astype("string"))
    parts = [
        pd.util.hash_pandas_object(content, index=False, hash_key=key).to_numpy() for key in _HASH_KEYS
    ]
    ids = [f"e_{a:016x}{b:016x}" for a, b in zip(parts[0], parts[1], strict=True)]
    return pd.Series(ids, index=frame.index, dtype="string")


class EventStore:
    """Append-only canonical events in DuckDB (a file, or memory by default).

    >>> with EventStore() as store:
    ...     store.count()
    0

    One store object per thread: DuckDB connections are not shared across threads.
    """

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        self.connection = duckdb.connect(self.path)
        self._run("SET TimeZone = 'UTC'")
        self._run(_CREATE)
        self._engine = DuckDBEngine(self.connection)
        self._seq: int | None = None

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

        Events without an ``event_id`` get a content id (:func:`content_event_ids`).
        One statement, so a batch lands whole or not at all. Keep one writing
        ``EventStore`` per database file: it numbers ``seq`` itself.
        Returns how many rows were new and how many were duplicates (within
        the batch or of stored events).
        """
        if events.empty:
            return AppendResult(0, 0)
        frame = events.reset_index(drop=True)
        missing_ids = frame["event_id"].isna()
        if missing_ids.any():
            frame = frame.copy()
            frame.loc[missing_ids, "event_id"] = content_event_ids(frame[missing_ids])
        first = ~frame["event_id"].duplicated(keep="first")
        unique = frame[first.to_numpy()]
        table = events_to_arrow(unique)
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
        result = AppendResult(appended=appended, duplicates=len(frame) - appended)
        log.debug("events appended", appended=result.appended, duplicates=result.duplicates)
        return result

    def import_parquet(self, path: Path | str) -> AppendResult:
        """Append the events of a Parquet file written by :meth:`export_parquet`.

        The file's rows are validated again (a foreign file may be anything);
        invalid rows raise ``ValueError`` naming row and field, because an
        export is expected to be clean. Ids are *not* pseudonymised again:
        the file must come from a shopintent store.
        """
        frame = pd.read_parquet(path)
        report = validate_events(frame)
        if report.rejections:
            shown = "; ".join(str(r) for r in report.rejections[:5])
            raise ValueError(f"{path}: {report.n_rejected} invalid row(s): {shown}")
        return self.append(report.valid)

    # -- reading --------------------------------------------------------------------------
    def count(self) -> int:
        """Number of stored events."""
        return int(self._run(f"SELECT COUNT(*) FROM {TABLE}")[0][0])

    def events(self) -> pd.DataFrame:
        """All stored events in ingest order (canonical columns plus ``seq``)."""
        return self.events_after(0)

    def events_after(self, seq: int) -> pd.DataFrame:
        """Stored events with ``seq`` above ``seq``, in ingest order: what an append added."""
        columns = ", ".join([*EVENT_COLUMNS, "seq"])
        frame = self._engine.sql(f"SELECT {columns} FROM {TABLE} WHERE seq > {int(seq)} ORDER BY seq")
        return normalise(frame, EVENT_DTYPES_WITH_SEQ)

    def export_parquet(self, path: Path | str) -> int:
        """Write every event (canonical columns plus ``seq``) to Parquet; returns the count."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = ", ".join([*EVENT_COLUMNS, "seq"])
        self._run(
            f"COPY (SELECT {columns} FROM {TABLE} ORDER BY seq) TO ? (FORMAT parquet)", [str(target)]
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


def sessionise_frame(events: pd.DataFrame, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES) -> pd.DataFrame:
    """Sessionise a validated canonical event frame without keeping a store (in memory).

    Handy for models that read a loader's events directly; ``seq`` is the
    frame's row order.
    """
    with EventStore() as store:
        store.append(events.assign(event_id=events["event_id"].astype("string")))
        return store.sessions(gap_minutes)
