"""The event store and its pipelines (sessions, aggregates, sequences) on DuckDB or Spark."""

from shopintent.store.duckdb_engine import DuckDBEngine
from shopintent.store.engine import DUCKDB, SPARK, Dialect, Engine
from shopintent.store.event_store import AppendResult, EventStore, sessionise_frame

__all__ = [
    "DUCKDB",
    "SPARK",
    "AppendResult",
    "Dialect",
    "DuckDBEngine",
    "Engine",
    "EventStore",
    "sessionise_frame",
]
