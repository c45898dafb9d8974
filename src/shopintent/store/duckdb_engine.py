"""DuckDB as a store engine: the embedded default, in memory or over a file."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd
import pyarrow as pa

from shopintent.store.engine import DUCKDB, Dialect, check_identifier
from shopintent.store.tables import arrow_to_pandas


class DuckDBEngine:
    """Run store pipelines on DuckDB.

    Give an open ``connection`` to share it (the event store does), or a
    ``path`` to open one (``":memory:"`` by default). The connection's time
    zone is set to UTC so timestamps come back as UTC instants. A DuckDB
    connection is not safe to share between threads; give each thread its own.

    >>> engine = DuckDBEngine()
    >>> engine.sql("SELECT 1 AS one")["one"].tolist()
    [1]
    """

    dialect: Dialect = DUCKDB

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection | None = None,
        *,
        path: Path | str = ":memory:",
    ) -> None:
        self._owns_connection = connection is None
        self.connection = connection if connection is not None else duckdb.connect(str(path))
        self.connection.execute("SET TimeZone = 'UTC'").fetchall()
        # Registered Arrow tables are scanned in place; keep them alive while registered.
        self._registered: dict[str, pa.Table] = {}

    def register(self, name: str, table: pd.DataFrame | pa.Table) -> None:
        """Make ``table`` queryable as ``name`` (a view over the data, no copy)."""
        check_identifier(name)
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        self.connection.register(name, table)
        self._registered[name] = table

    def sql(self, query: str) -> pd.DataFrame:
        """Run ``query`` and return its result as pandas."""
        return arrow_to_pandas(self.connection.sql(query).to_arrow_table())

    def columns(self, name: str) -> list[str]:
        """The column names of a table or view."""
        check_identifier(name)
        return list(self.connection.sql(f"SELECT * FROM {name} LIMIT 0").columns)

    def close(self) -> None:
        """Close the connection if this engine opened it."""
        for name in list(self._registered):
            self.connection.unregister(name)
        self._registered.clear()
        if self._owns_connection:
            self.connection.close()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
