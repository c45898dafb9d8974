"""What each process of the multi-process cap tests runs (a small module: a child imports only this)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shopintent.intervene import CapConfig, DecisionContext, DecisionEngine, UpliftPolicy
from shopintent.intervene.decision_log import DecisionLog
from shopintent.intervene.shared_caps import RedisCapLedger, RedisIssuedDecisions
from shopintent.schema.records import Decision

NOON = datetime(2026, 1, 5, 12, tzinfo=UTC)
CAPS = CapConfig(daily_budget=60.0, max_per_user_per_day=2, max_per_session=1)


def context(i: int) -> DecisionContext:
    # 25 shoppers over 50 sessions, carts from 30 to 190: every process hits the same users and sessions.
    return DecisionContext(user_id=f"u{i % 25}", session_id=f"s{i % 50}", purchase_probability=0.2,
                           abandonment_risk=0.9, cart_value=30.0 + 10 * (i % 17), timestamp=NOON)


def burst(url: str, prefix: str, log_path: str, worker: int, start: object, n: int) -> None:
    """One process: its own engine over the shared ledger, deciding as fast as it can after ``start``."""
    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), log_path=Path(log_path), random_state=worker,
                            ledger=RedisCapLedger(url, CAPS, prefix=prefix),
                            issued=RedisIssuedDecisions(url, prefix=prefix))
    start.wait()  # type: ignore[attr-defined]
    for j in range(n):
        engine.decide(context(worker * 7 + j))
    engine.close()


def append(path: str, worker: int, n: int) -> None:
    log = DecisionLog(Path(path))
    note = f"w{worker}-" + "x" * 100_000  # lines far longer than any buffer or pipe size
    for j in range(n):
        log.append_decision(Decision(f"{worker}-{j}", NOON, "u", "s", "nothing", 1.0, "p", {"intent": note}),
                            {"nothing": 1.0}, {})
    log.close()
