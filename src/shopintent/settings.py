"""The one place shopintent reads its configuration.

Every setting comes from an environment variable prefixed ``SHOPINTENT_`` (or a
``.env`` file in the working directory). Nothing else in the package reads the
environment: code asks :func:`get_settings` instead, so a test or a caller can
build a :class:`Settings` by hand and pass it down.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".cache" / "shopintent"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "share" / "shopintent"


#: The repository this package runs from, when it runs from a checkout (editable install).
_CHECKOUT = Path(__file__).resolve().parents[2]


def _default_results_dir(data: dict[str, Any]) -> Path:
    """The checkout's ``benchmarks/results`` when run from one, else ``state_dir/benchmarks``.

    Benchmark results are committed beside the code, so from a checkout they belong in
    its ``benchmarks/results`` wherever the command is started; an installed package has
    no such folder and keeps its own runs in the state folder.
    """
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "benchmarks").is_dir():
        return _CHECKOUT / "benchmarks" / "results"
    return Path(data["state_dir"]) / "benchmarks"


class Settings(BaseSettings):
    """Typed configuration for every shopintent component."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPINTENT_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where public data sets live (one folder per data set).",
    )
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Where shopintent keeps its own state: event store, keys, models.",
    )
    results_dir: Path = Field(
        default_factory=_default_results_dir,
        description="Where benchmark results (AREA.json) are written by `shopintent bench` and "
        "read by the dashboard's model cards. Default: benchmarks/results of the checkout "
        "shopintent runs from, else state_dir/benchmarks; never the working folder.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC key (at least 32 bytes) for user/session/event pseudonyms. When unset, "
        "a random key is created once in state_dir/pseudonym.key (mode 0600) and reused.",
    )
    session_gap_minutes: float = Field(
        default=30.0, gt=0, description="Inactivity gap that closes a session."
    )
    allow_download: bool = Field(
        default=True,
        description="Download a missing data file from its public source when online.",
    )
    download_timeout_s: float = Field(default=30.0, gt=0)
    spark_master: str = Field(default="local[2]", description="Spark master for the Spark engine.")
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db for the service's Redis stream and shared session state.",
    )
    kafka_config: SecretStr | None = Field(
        default=None,
        description="librdkafka settings for the Kafka event log (--stream kafka), a JSON object "
        "passed to its producer, consumer and admin client: what a managed cluster needs, e.g. "
        '{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "...", '
        '"sasl.password": "..."} (docs/kafka.md). Secret: it may hold a password.',
    )
    max_future_skew_s: float = Field(
        default=300.0, ge=0, allow_inf_nan=False,
        description="How many seconds after the wall clock (UTC) an event may be dated; later "
        "events are rejected, naming the row, so a wrong clock cannot move the live sessions' clock "
        "to its date. Past dates are not limited (historic logs replay).",
    )
    risk_rules_path: Path | None = Field(
        default=None,
        description="The shop's risk rule file (TOML, docs/risk.md) the service runs beside the risk "
        "models; unset: the default rules shipped in the package (shopintent/risk/default_rules.toml).",
    )
    risk_webhook_url: str | None = Field(
        default=None,
        description="URL the service POSTs a JSON notification to when a risk verdict is `hold` "
        "(docs/risk.md, Live); unset: holds are only logged and counted.",
    )
    assist_templates: Path | None = Field(
        default=None,
        description="The shop's answer templates for the assistant's service flows (TOML, zh + en, "
        "docs/assist.md); unset: the file shipped in the package (shopintent/assist/templates/).",
    )
    assist_index_dir: Path | None = Field(
        default=None,
        description="The Q&A index the service's assistant answers product questions from (a folder "
        "written by `shopintent assist index`); unset: <state_dir>/assist/index when it exists.",
    )
    dp_epsilon: float = Field(
        default=1.0, gt=0,
        description="Privacy budget ε of the counts released with differential privacy (funnel, segment "
        "sizes, per-group rates: docs/fairness.md); smaller is more private and noisier.",
    )
    fairness_min_group_rows: int = Field(
        default=30, ge=1,
        description="Fewest rows a group needs to be audited; smaller groups are listed with their size.",
    )
    fairness_gap_bound: float = Field(
        default=0.1, ge=0,
        description="Largest live gap in intervention rate between shopper groups before the dashboard's "
        "fairness panel flags it (docs/fairness.md).",
    )
    profile_live_chunk_events: int = Field(
        default=5_000, ge=1,
        description="Store seqs the service's live profiles read and fold per step while they catch up with "
        "the store in the background after start (each store trip and fold stays bounded; docs/fairness.md).",
    )
    profile_live_snapshot_events: int = Field(
        default=50_000, ge=1,
        description="Events folded into live profiles between two saved snapshots of their state "
        "(<state_dir>/profile/live/): a restart folds only what is newer than the last one.",
    )
    multimodal_min_steps: int | None = Field(
        default=None, ge=1,
        description="Fewest optimiser steps of the text-image projection that `multimodal eval` and "
        "`multimodal index` train (a small catalogue gets more epochs); unset: the projection's default "
        "(300). Lower it only to make a small round trip cheap (the tests); reported numbers use the default.",
    )
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=False, description="Log JSON lines instead of console text.")
    api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated API keys for the HTTP service; each entry is KEY (every "
        "scope) or KEY:SCOPE[+SCOPE] with scopes read, write, admin (admin implies the others).",
    )

    def kafka_client_config(self) -> dict[str, str | int | float | bool]:
        """``kafka_config`` parsed: a JSON object of librdkafka settings (empty when unset)."""
        import json

        if self.kafka_config is None:
            return {}
        try:
            parsed = json.loads(self.kafka_config.get_secret_value())
        except json.JSONDecodeError as exc:  # the value is not shown: it may hold a password
            raise ValueError(f"SHOPINTENT_KAFKA_CONFIG is not JSON ({exc.msg} at character "
                             f"{exc.pos}); give an object such as "
                             '{"security.protocol": "SASL_SSL"}') from None
        if not isinstance(parsed, dict) or not all(
                isinstance(v, str | int | float | bool) for v in parsed.values()):
            raise ValueError("SHOPINTENT_KAFKA_CONFIG must be a JSON object of librdkafka settings "
                             "with string, number or boolean values")
        return parsed

    @property
    def store_path(self) -> Path:
        """The DuckDB event-store file."""
        return self.state_dir / "events.duckdb"

    def resolved_pseudonym_key(self) -> bytes:
        """Return the pseudonymisation key, creating and persisting one if none is set.

        The rules (at least 32 bytes; a key file created exclusively with mode 0600)
        live in :func:`shopintent.privacy.keys.resolve_pseudonym_key`. The key is
        never logged or printed; only its file path is.
        """
        from shopintent.privacy.keys import KEY_FILE_NAME, resolve_pseudonym_key

        configured = None if self.pseudonym_key is None else self.pseudonym_key.get_secret_value()
        return resolve_pseudonym_key(configured, self.state_dir / KEY_FILE_NAME)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
