"""Spark Structured Streaming reads the service's Kafka event log: live sessions on Spark.

Spark's own Kafka source lives in the ``spark-sql-kafka`` connector jar, which
is fetched from Maven at session start; offline (and on this project's hosts)
it is not available and ``format("kafka")`` fails with
``KAFKA_DATA_SOURCE_NOT_ENABLED``. So this module reads the topic through a
PySpark 4 Python Data Source over ``confluent-kafka`` instead:
``spark.dataSource.register(KafkaEventDataSource)`` then
``spark.readStream.format("shopintent-kafka").option("bootstrap", ...)
.option("topic", ...).load()`` (:func:`read_event_stream` does both).

The message format is the one the service publishes (``serve/streams/kafka.py``):
value = a JSON list of protected event records (ISO-8601 timestamps), headers
``key_id`` (absent for raw events) and ``applied`` (``b"1"``), key = the first
event's ``user_id``. Each event becomes one row with the canonical event columns
(:data:`shopintent.schema.validation.EVENT_COLUMNS`) plus where it came from
(``key_id``, ``applied``, ``kafka_partition``, ``kafka_offset``).

Offsets are ``{"<partition>": <next offset>}``; Spark keeps them in the query's
checkpoint, so the reader joins no consumer group and commits nothing to the
broker. The end of a partition is never taken from the high watermark alone:
some brokers (Tansu) report the base offset of the last record batch + 1 after
a batched produce, which would stall a reader forever. :meth:`KafkaEventStreamReader.latestOffset`
reads the partition's tail from one before the reported watermark until the
broker signals the end of the partition or nothing arrives for ``idleTimeoutMs``,
and a microbatch's read of a partition stops at its planned end offset or after
the same idle time, so neither ever loops forever.

:func:`live_session_aggregates` is the store's sessionisation as a streaming
query: Spark's ``session_window`` per user on event time with the store's gap
(``Settings.session_gap_minutes``), duplicates (at-least-once delivery) dropped
by ``event_id`` within the watermark, and the columns of
:data:`shopintent.store.pipelines.SESSION_AGGREGATE_DTYPES`; :func:`collect_sessions`
numbers the sessions as the store does, so ``pipelines.funnel`` applies unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, SupportsTriggerAvailableNow
from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from shopintent.log import get_logger
from shopintent.store import pipelines
from shopintent.store.tables import normalise

if TYPE_CHECKING:
    from confluent_kafka import Consumer
    from pyspark.sql import DataFrame, SparkSession

log = get_logger(__name__)

#: The name to give ``spark.readStream.format``.
FORMAT = "shopintent-kafka"
#: Header naming the pseudonym key of a protected message (as ``serve/streams/kafka.py`` writes it).
KEY_HEADER = "key_id"
#: Header ``b"1"`` when the publisher already applied the events' live effects.
APPLIED_HEADER = "applied"

#: Rows of the stream: the canonical event columns, then the message each came from.
STREAM_SCHEMA = StructType([
    StructField("event_id", StringType()),
    StructField("user_id", StringType()),
    StructField("session_id", StringType()),
    StructField("timestamp", TimestampType()),
    StructField("event_type", StringType()),
    StructField("item_id", StringType()),
    StructField("category_id", StringType()),
    StructField("query", StringType()),
    StructField("price", DoubleType()),
    StructField("quantity", LongType()),
    StructField("key_id", StringType()),
    StructField("applied", BooleanType()),
    StructField("kafka_partition", IntegerType()),
    StructField("kafka_offset", LongType()),
])
_EVENT_FIELDS: tuple[str, ...] = (
    "event_id", "user_id", "session_id", "timestamp", "event_type",
    "item_id", "category_id", "query", "price", "quantity",
)
_STARTING = ("earliest", "latest")
#: The longest a tail read for ``latestOffset`` goes on (seconds) while records keep coming.
_TAIL_READ_LIMIT_S = 5.0
#: Rows per Arrow batch handed to Spark.
_BATCH_ROWS = 4096


@dataclass(frozen=True)
class KafkaStreamOptions:
    """The data source's options, checked once (names as given to ``.option``).

    ``bootstrap`` (host:port[,host:port]) and ``topic`` are required;
    ``startingOffsets`` is ``earliest`` (default: the whole retained log) or
    ``latest``; ``idleTimeoutMs`` is how long a read waits for a message
    before it decides a partition has no more (default 500).
    """

    bootstrap: str
    topic: str
    starting: str = "earliest"
    idle_timeout_s: float = 0.5

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> KafkaStreamOptions:
        """Options from Spark's (case-insensitive) option map; ``ValueError`` names a bad one."""
        lower = {str(k).lower(): str(v) for k, v in options.items()}
        missing = [name for name in ("bootstrap", "topic") if not lower.get(name, "").strip()]
        if missing:
            raise ValueError(f"the {FORMAT} source needs option(s) {', '.join(missing)}")
        starting = lower.get("startingoffsets", "earliest").strip().lower()
        if starting not in _STARTING:
            raise ValueError(
                f"option startingOffsets {starting!r} must be one of {', '.join(_STARTING)}")
        raw_idle = lower.get("idletimeoutms", "500")
        try:
            idle_ms = float(raw_idle)
        except ValueError:
            raise ValueError(f"option idleTimeoutMs {raw_idle!r} is not a number") from None
        if not idle_ms > 0:
            raise ValueError(f"option idleTimeoutMs must be positive, not {raw_idle!r}")
        return cls(lower["bootstrap"].strip(), lower["topic"].strip(), starting, idle_ms / 1000.0)


@dataclass(frozen=True)
class KafkaPartitionRange(InputPartition):
    """One Spark task: a Kafka partition's offsets ``[start, end)``."""

    partition: int
    start: int
    end: int


def _consumer(bootstrap: str) -> Consumer:
    from confluent_kafka import Consumer

    # A group id is required by librdkafka even with assign(); nothing is ever committed to it.
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "shopintent-spark-reader",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "allow.auto.create.topics": False,
        # An offset the broker no longer holds (retention) fails the read: never skip silently.
        "auto.offset.reset": "error",
    })


def _offsets(raw: Mapping[str, Any]) -> dict[int, int]:
    return {int(partition): int(offset) for partition, offset in raw.items()}


def _as_json(offsets: Mapping[int, int]) -> dict[str, int]:
    return {str(partition): int(offset) for partition, offset in sorted(offsets.items())}


def _events_batch(rows: dict[str, list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    timestamps = pd.to_datetime(pd.Series(rows["timestamp"], dtype="object"), utc=True,
                                format="ISO8601")
    arrays = []
    for field in schema:
        if field.name == "timestamp":
            arrays.append(pa.array(timestamps.astype("datetime64[us, UTC]"), type=field.type))
        else:
            arrays.append(pa.array(rows[field.name], type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _decode(message: Any, columns: dict[str, list[Any]]) -> None:
    """Append one message's events to ``columns``; ``ValueError`` names the message."""
    where = f"partition {message.partition()} offset {message.offset()}"
    try:
        events = json.loads(message.value())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message at {where} is not JSON: {exc}") from None
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        raise ValueError(f"message at {where} must hold a JSON list of events")
    headers = dict(message.headers() or [])
    key_id = headers.get(KEY_HEADER)
    applied = headers.get(APPLIED_HEADER) == b"1"
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValueError(f"message at {where}: event {index} is not a JSON object")
        if not event.get("user_id") or not event.get("timestamp"):
            raise ValueError(f"message at {where}: event {index} lacks `user_id` or `timestamp`")
        for name in _EVENT_FIELDS:
            columns[name].append(event.get(name))
        columns["key_id"].append(None if key_id is None else key_id.decode("utf-8"))
        columns["applied"].append(applied)
        columns["kafka_partition"].append(message.partition())
        columns["kafka_offset"].append(message.offset())


class KafkaEventStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Reads the event topic for Spark: offsets, microbatch plans and the records themselves.

    Lives in Spark's planner process (offsets) and, re-created from the same
    options, in each Python worker (:meth:`read`); its consumer is opened lazily
    so the object pickles.
    """

    def __init__(self, options: KafkaStreamOptions, schema: StructType = STREAM_SCHEMA) -> None:
        self.options = options
        self.schema = schema
        self._consumer: Consumer | None = None
        self._target: dict[int, int] | None = None

    def _client(self) -> Consumer:
        if self._consumer is None:
            self._consumer = _consumer(self.options.bootstrap)
        return self._consumer

    def _partitions(self) -> list[int]:
        """The topic's partitions now (new ones appear between microbatches)."""
        topic = self.options.topic
        metadata = self._client().list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            # A topic not created yet reads as empty; the next trigger looks again.
            return []
        return sorted(found.partitions)

    def _watermarks(self, partition: int) -> tuple[int, int]:
        from confluent_kafka import TopicPartition

        low, high = self._client().get_watermark_offsets(
            TopicPartition(self.options.topic, partition), timeout=10, cached=False)
        return int(low), int(high)

    def _tail_ends(self, starts: Mapping[int, int]) -> dict[int, int]:
        """The next offset after each partition's last record, read, not trusted from the watermark."""
        from confluent_kafka import KafkaError, TopicPartition

        consumer = self._client()
        ends: dict[int, int] = {}
        probe: list[TopicPartition] = []
        for partition, start in starts.items():
            low, high = self._watermarks(partition)
            ends[partition] = max(start, low, high)
            # The watermark may lag the log (a batch's base offset + 1): read on from just before it.
            probe.append(TopicPartition(self.options.topic, partition, max(start, low, high - 1)))
        if not probe:
            return ends
        consumer.assign(probe)
        open_partitions = {tp.partition for tp in probe}
        last_message = time.monotonic()
        # Under a steady stream the tail never goes quiet: what was seen by then is a valid end.
        deadline = last_message + _TAIL_READ_LIMIT_S
        try:
            while (open_partitions and time.monotonic() - last_message < self.options.idle_timeout_s
                   and time.monotonic() < deadline):
                for message in consumer.consume(1000, timeout=0.05):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            partition = message.partition()
                            open_partitions.discard(partition)
                            ends[partition] = max(ends[partition], message.offset())
                            continue
                        raise RuntimeError(f"reading {self.options.topic}: {error}")
                    last_message = time.monotonic()
                    ends[message.partition()] = max(ends[message.partition()], message.offset() + 1)
        finally:
            consumer.unassign()
        return ends

    def initialOffset(self) -> dict[str, int]:
        """Where a new query starts: the first retained offsets, or the current ends (``latest``)."""
        starts = {partition: self._watermarks(partition)[0] for partition in self._partitions()}
        if self.options.starting == "latest":
            starts = self._tail_ends(starts)
        return _as_json(starts)

    def latestOffset(self, start: dict[str, int], limit: ReadLimit) -> dict[str, int]:
        """The ends of what the log holds now (never beyond the availableNow target)."""
        if not isinstance(limit, ReadAllAvailable):
            raise ValueError(
                f"the {FORMAT} source reads all available data; {limit!r} is not supported")
        starts = _offsets(start)
        for partition in self._partitions():
            # A partition added since the last batch is read from its first offset.
            starts.setdefault(partition, self._watermarks(partition)[0])
        ends = self._tail_ends(starts)
        if self._target is not None:
            ends = {p: min(end, self._target.get(p, starts[p])) for p, end in ends.items()}
            ends = {p: max(end, starts[p]) for p, end in ends.items()}
        log.debug("spark_stream.latest_offset", topic=self.options.topic, ends=_as_json(ends))
        return _as_json(ends)

    def prepareForTriggerAvailableNow(self) -> None:
        """Fix the ends an ``availableNow`` query stops at: the log as it is now."""
        starts = {partition: self._watermarks(partition)[0] for partition in self._partitions()}
        self._target = self._tail_ends(starts)

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> Sequence[KafkaPartitionRange]:
        """One Spark task per Kafka partition with new records."""
        starts = _offsets(start)
        ranges = []
        for partition, stop in sorted(_offsets(end).items()):
            begin = starts.get(partition, 0)
            if stop > begin:
                ranges.append(KafkaPartitionRange(partition, begin, stop))
        return ranges

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        """The events of one partition's planned range, as Arrow batches of :data:`STREAM_SCHEMA`."""
        from confluent_kafka import KafkaError, TopicPartition
        from pyspark.sql.pandas.types import to_arrow_schema

        assert isinstance(partition, KafkaPartitionRange)
        arrow_schema = to_arrow_schema(self.schema, timezone="UTC")
        consumer = _consumer(self.options.bootstrap)
        consumer.assign([TopicPartition(self.options.topic, partition.partition, partition.start)])
        columns: dict[str, list[Any]] = {name: [] for name in arrow_schema.names}
        position = partition.start
        last_message = time.monotonic()
        try:
            idle = self.options.idle_timeout_s
            while position < partition.end and time.monotonic() - last_message < idle:
                for message in consumer.consume(1000, timeout=0.05):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue  # wait for the planned end or the idle timeout
                        raise RuntimeError(f"reading {self.options.topic} partition "
                                           f"{partition.partition}: {error}")
                    last_message = time.monotonic()
                    if message.offset() >= partition.end:
                        position = partition.end
                        break
                    position = message.offset() + 1
                    _decode(message, columns)
                    if len(columns["user_id"]) >= _BATCH_ROWS:
                        yield _events_batch(columns, arrow_schema)
                        columns = {name: [] for name in arrow_schema.names}
            if position < partition.end:
                log.warning("spark_stream.short_read", topic=self.options.topic,
                            partition=partition.partition, planned_end=partition.end, read_to=position)
            if columns["user_id"]:
                yield _events_batch(columns, arrow_schema)
        finally:
            consumer.close()

    def stop(self) -> None:
        """Close the planner's consumer."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class KafkaEventDataSource(DataSource):
    """The ``shopintent-kafka`` streaming source: the service's event topic as rows (see module)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> StructType:
        return STREAM_SCHEMA

    def streamReader(self, schema: StructType) -> KafkaEventStreamReader:
        return KafkaEventStreamReader(KafkaStreamOptions.parse(self.options), schema)


def read_event_stream(spark: SparkSession, bootstrap: str, topic: str, *,
                      starting: str = "earliest", idle_timeout_ms: int = 500) -> DataFrame:
    """The topic's events as a streaming DataFrame (:data:`STREAM_SCHEMA`); registers the source.

    Spark's Python workers import this module: start the session with
    ``spark.pyspark.python`` set to the interpreter shopintent is installed in.
    """
    spark.dataSource.register(KafkaEventDataSource)
    return (spark.readStream.format(FORMAT)
            .option("bootstrap", bootstrap).option("topic", topic)
            .option("startingOffsets", starting).option("idleTimeoutMs", str(idle_timeout_ms))
            .load())


def live_session_aggregates(events: DataFrame, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES,
                            watermark: str = "1 hour") -> DataFrame:
    """Per-user sessions of a streaming event DataFrame, as the store counts them.

    A session ends after more than ``gap_minutes`` without an event, as in
    :func:`shopintent.store.pipelines.sessionise_sql`. Spark merges an event into
    a session when it starts no later than the session's window end (last event +
    gap), so an event exactly ``gap_minutes`` after the last one stays in the
    session and one a microsecond later starts the next, as in the store (a test
    pins both). ``watermark`` is how late an event may arrive; a repeated
    ``event_id`` within it (a message delivered twice) counts once, as the
    store's ``event_id`` key stores it once. The store's second rule, a change
    of the shop's own ``session_id`` starts a session, is not applied: a
    streaming session window closes on inactivity only.

    In ``append`` output mode a session is emitted once the watermark has passed
    its end; ``complete`` mode shows open sessions too. A batch DataFrame of the
    same columns gives the same sessions (duplicates dropped over the whole frame).
    """
    from pyspark.sql import functions as F

    if not gap_minutes > 0:
        raise ValueError(f"gap_minutes must be positive, not {gap_minutes!r}")
    gap_us = int(round(gap_minutes * 60 * 1_000_000))
    if events.isStreaming:
        deduplicated = (events.withWatermark("timestamp", watermark)
                        .dropDuplicatesWithinWatermark(["event_id"]))
    else:  # a bounded replay (tests, backfills): the whole frame is one watermark
        deduplicated = events.dropDuplicates(["event_id"])

    def count(event_type: str) -> Any:
        return F.count(F.when(F.col("event_type") == event_type, 1))

    window = F.session_window("timestamp", f"{gap_us} microseconds")
    sessions = deduplicated.groupBy(F.col("user_id"), window).agg(
        F.min("timestamp").alias("start"),
        F.max("timestamp").alias("end"),
        ((F.max(F.unix_micros("timestamp")) - F.min(F.unix_micros("timestamp"))).cast("double")
         / 1_000_000.0).alias("duration_s"),
        F.count(F.lit(1)).alias("n_events"),
        count("view").alias("n_views"),
        count("search").alias("n_searches"),
        count("add_to_cart").alias("n_add_to_cart"),
        count("remove_from_cart").alias("n_remove_from_cart"),
        count("favourite").alias("n_favourite"),
        count("purchase").alias("n_purchase"),
        F.size(F.collect_set("item_id")).cast("bigint").alias("n_items"),
        F.size(F.collect_set("category_id")).cast("bigint").alias("n_categories"),
        F.sum(F.when(F.col("event_type") == "purchase",
                     F.coalesce(F.col("price"), F.lit(0.0))
                     * F.coalesce(F.col("quantity"), F.lit(1)))
              .otherwise(F.lit(0.0))).cast("double").alias("revenue"),
    )
    return (sessions
            .withColumn("purchased", F.col("n_purchase") > 0)
            .withColumn("cart_abandoned", (F.col("n_add_to_cart") > 0) & (F.col("n_purchase") == 0))
            .drop("session_window"))


def collect_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Streamed sessions as the store's session table: ``session_id`` = ``<user>:<n>`` in time order.

    ``sessions`` is what :func:`live_session_aggregates` wrote (a memory sink's
    table, a ``foreachBatch`` frame); the result has the columns and order of
    :func:`shopintent.store.pipelines.session_aggregates`, so the two compare
    directly and ``pipelines.funnel`` takes either.
    """
    ordered = sessions.sort_values(["user_id", "start"], kind="stable").copy()
    number = ordered.groupby("user_id", sort=False).cumcount() + 1
    ordered["session_id"] = ordered["user_id"].astype(str) + ":" + number.astype(str)
    ordered = ordered.sort_values("session_id", kind="stable")
    return normalise(ordered, pipelines.SESSION_AGGREGATE_DTYPES)


def live_funnel(sessions: pd.DataFrame) -> pd.DataFrame:
    """The view → add_to_cart → purchase funnel of streamed sessions (``pipelines.funnel``)."""
    return pipelines.funnel(collect_sessions(sessions))
