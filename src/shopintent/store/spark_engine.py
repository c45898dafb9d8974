"""Apache Spark as a store engine: the same pipelines, beyond one machine.

PySpark is the optional ``[spark]`` extra: it is imported when a
:class:`SparkEngine` is made, never when :mod:`shopintent.store` is imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from shopintent.store.engine import SPARK, Dialect, check_identifier
from shopintent.store.tables import arrow_to_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Settings for a session this engine starts. Few shuffle partitions keep
#: local jobs quick; raise ``spark.sql.shuffle.partitions`` on a cluster.
DEFAULT_CONFIG: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Spark engine needs PySpark: pip install 'shopintent[spark]' (and Java 17+)"
        ) from exc
    return SparkSession


class SparkEngine:
    """Run store pipelines on Apache Spark.

    ``SparkEngine(master="local[2]")`` starts a session (15-20 s locally) with
    :data:`DEFAULT_CONFIG` plus ``config``; ``SparkEngine(session=spark)`` uses
    an existing one and leaves its settings alone (results are still returned
    in UTC, because Spark hands instants to Arrow). :meth:`stop` stops only a
    session this engine started.
    """

    dialect: Dialect = SPARK

    def __init__(
        self,
        master: str = "local[2]",
        *,
        session: SparkSession | None = None,
        app_name: str = "shopintent",
        config: Mapping[str, str] | None = None,
    ) -> None:
        self._owns_session = session is None
        if session is None:
            spark_session = _import_pyspark()
            builder = spark_session.builder.master(master).appName(app_name)
            for key, value in {**DEFAULT_CONFIG, **(config or {})}.items():
                builder = builder.config(key, value)
            with warnings.catch_warnings():
                # PySpark 4 warns that it is untested with pandas 3; we exchange Arrow only.
                warnings.filterwarnings("ignore", message=".*pandas >= 3.*", category=FutureWarning)
                session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
        self.session = session

    def register(self, name: str, table: pd.DataFrame | pa.Table) -> None:
        """Make ``table`` queryable as the temporary view ``name``."""
        check_identifier(name)
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        # Drop pandas metadata: Spark reads the Arrow types, and the index note only confuses it.
        table = table.replace_schema_metadata(None)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pandas >= 3.*", category=FutureWarning)
            self.session.createDataFrame(table).createOrReplaceTempView(name)

    def sql(self, query: str) -> pd.DataFrame:
        """Run ``query`` and return its result as pandas."""
        return arrow_to_pandas(self.session.sql(query).toArrow())

    def columns(self, name: str) -> list[str]:
        """The column names of a table or temporary view."""
        check_identifier(name)
        return list(self.session.table(name).columns)

    def stop(self) -> None:
        """Stop the Spark session if this engine started it."""
        if self._owns_session:
            self.session.stop()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
