"""Service options that are not shared configuration: limits, stream and state backends.

:class:`~shopintent.settings.Settings` stays the one place the environment is
read (data, state folder, API keys, pseudonym key). What only the running
service needs — where its store file is, how big a request may be, which
stream and session-state backend to use — is passed in explicitly by the CLI
or a test as a :class:`ServeConfig`, so two services in one process (tests)
never share hidden state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from shopintent.settings import Settings

#: Stream backends the service can consume from.
STREAM_BACKENDS = ("memory", "redis")
#: When the service decides on its own: never, after cart/favourite events, after every event.
AUTO_DECIDE = ("off", "cart", "every")
#: Session-state backends.
STATE_BACKENDS = ("memory", "redis")


@dataclass(frozen=True)
class ServeConfig:
    """How one service instance runs.

    ``redis_url`` is needed when ``stream`` or ``state`` is ``"redis"``.
    ``store_path`` defaults to ``settings.store_path``; ``":memory:"`` keeps
    events in memory (tests, benchmarks of the HTTP layer alone).
    """

    store_path: Path | str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch_events: int = 10_000
    stream: str = "memory"
    state: str = "memory"
    redis_url: str | None = None
    stream_name: str = "shopintent:events"
    consumer_group: str = "shopintent-ingest"
    consumer_name: str | None = None
    auto_decide: str = "cart"
    decision_budget: float = 1_000.0
    live_window_s: int = 60
    max_sessions: int = 100_000
    results_dir: Path = Path("benchmarks/results")
    train_missing: bool = True
    api_keys: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.stream not in STREAM_BACKENDS:
            raise ValueError(f"stream {self.stream!r} is not one of {', '.join(STREAM_BACKENDS)}")
        if self.state not in STATE_BACKENDS:
            raise ValueError(f"state {self.state!r} is not one of {', '.join(STATE_BACKENDS)}")
        if "redis" in (self.stream, self.state) and not self.redis_url:
            raise ValueError("stream/state 'redis' needs redis_url (e.g. redis://127.0.0.1:6379/0)")
        if self.auto_decide not in AUTO_DECIDE:
            raise ValueError(f"auto_decide {self.auto_decide!r} is not one of {', '.join(AUTO_DECIDE)}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes {self.max_body_bytes} is below 1 KiB")
        if self.max_batch_events < 1:
            raise ValueError(f"max_batch_events {self.max_batch_events} must be at least 1")

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


def resolve_api_keys(settings: Settings, config: ServeConfig) -> tuple[tuple[str, ...], bool]:
    """The keys write endpoints accept, and whether one was generated for this run.

    Keys come from ``config.api_keys`` or ``SHOPINTENT_API_KEYS``; with neither,
    one random key is generated so a fresh service is never open for writes.
    """
    if config.api_keys:
        keys = tuple(k for k in config.api_keys if k)
    elif settings.api_keys is not None:
        keys = tuple(k.strip() for k in settings.api_keys.get_secret_value().split(",") if k.strip())
    else:
        keys = ()
    if keys:
        return keys, False
    return (secrets.token_urlsafe(24),), True
