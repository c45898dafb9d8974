"""Caps that hold across processes: the Redis cap ledger under concurrent bursts, redraws, one shared log."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from datetime import date
from multiprocessing.context import BaseContext
from pathlib import Path

import pytest
import redis

from shopintent.intervene import DEFAULT_ACTIONS, CapConfig, DecisionContext, DecisionEngine, UpliftPolicy
from shopintent.intervene.caps import CapUsage
from shopintent.intervene.decision_log import read_decisions
from shopintent.intervene.engine import UnknownDecision
from shopintent.intervene.shared_caps import (
    DAY_TTL_S,
    DECISION_TTL_S,
    RedisCapLedger,
    RedisIssuedDecisions,
)
from tests.intervene.shared_caps_workers import CAPS, NOON, append, burst, context
from tests.serve.conftest import redis_url  # noqa: F401 (the real redis-server fixture)

ACTIONS = {a.name: a for a in DEFAULT_ACTIONS}


def _processes() -> BaseContext:
    """Fresh interpreters (no fork of the test process and its threads), forked from one server that
    imported the engine once: the engine's imports take seconds, and each child would repeat them."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.intervene.shared_caps_workers"])
    return ctx


def test_caps_hold_across_processes_under_concurrent_bursts(redis_url: str, tmp_path: Path) -> None:  # noqa: F811
    prefix = f"test-{uuid.uuid4().hex}:"
    log_path = tmp_path / "decisions.jsonl"
    processes = _processes()
    start = processes.Event()
    workers = [processes.Process(target=burst, args=(redis_url, prefix, str(log_path), w, start, 150))
               for w in range(4)]
    for p in workers:
        p.start()
    start.set()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]

    frame = read_decisions(log_path)  # all four processes appended to the one file
    assert len(frame) == 600 and frame["decision_id"].is_unique
    acted = frame[frame["action"] != "nothing"]
    cost = sum(ACTIONS[a].cost(c["cart_value"]) for a, c in zip(acted["action"], acted["context"], strict=True))
    assert acted["user_id"].value_counts().max() <= CAPS.max_per_user_per_day
    assert acted["session_id"].value_counts().max() <= CAPS.max_per_session
    assert cost <= CAPS.daily_budget + 1e-9
    # The caps bound (the policy intervenes three times in four when it can) and the ledger agrees.
    assert Counter(r for b in frame["blocked"] for r in b.values())["cap_session"] > 300
    assert RedisCapLedger(redis_url, CAPS, prefix=prefix).spent == {NOON.date(): pytest.approx(cost)}
    # Each propensity is that of the draw that was logged, over the set it was drawn from.
    assert ((frame["propensity"] > 0) & (frame["propensity"] <= 1)).all()
    for _, row in frame.iterrows():
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)
        assert row["probabilities"][row["action"]] == pytest.approx(row["propensity"])
        assert row["action"] not in row["blocked"]


class _RacedLedger(RedisCapLedger):
    """A ledger that another process beats to every reservation right after the engine reads the counts."""

    def __init__(self, url: str, prefix: str, rival: RedisCapLedger) -> None:
        super().__init__(url, CAPS, prefix=prefix)
        self.rival = rival

    def usage(self, context: DecisionContext) -> CapUsage:
        seen = super().usage(context)
        self.rival.reserve(context, ACTIONS["recommend"])
        return seen


def test_a_reservation_lost_to_another_process_is_drawn_again(redis_url: str) -> None:  # noqa: F811
    prefix = f"test-{uuid.uuid4().hex}:"
    rival = RedisCapLedger(redis_url, CAPS, prefix=prefix)
    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), random_state=3,
                            ledger=_RacedLedger(redis_url, prefix, rival))
    details = [engine.decide_detailed(context(i)) for i in range(20)]  # 20 distinct sessions
    redrawn = [d for d in details if d.blocked.get("recommend") == "cap_session"]
    assert engine.n_redraws == len(redrawn) > 0
    for d in redrawn:  # the second read saw the session taken: only the no-op was left, drawn with p = 1
        assert d.decision.action == "nothing" and d.decision.propensity == 1.0
        assert d.probabilities == {"nothing": 1.0} and d.reserved_cost == 0.0
    for d in details:
        if d not in redrawn:  # the no-op drawn first, among all four actions
            assert d.decision.action == "nothing" and d.decision.propensity == pytest.approx(1 / len(ACTIONS))


def test_reserve_refuses_what_another_ledger_took_in_between(redis_url: str) -> None:  # noqa: F811
    prefix = f"test-{uuid.uuid4().hex}:"
    mine, theirs = (RedisCapLedger(redis_url, CapConfig(daily_budget=20.0), prefix=prefix) for _ in range(2))
    coupon = ACTIONS["coupon_10"]
    first = DecisionContext("u1", "s1", 0.2, 0.9, cart_value=150.0, timestamp=NOON)
    assert mine.reason_blocked(first, coupon) is None
    assert theirs.reserve(first, coupon) == coupon.cost(150.0)
    assert mine.reserve(first, coupon) is None  # the session's one intervention is gone
    assert mine.reason_blocked(first, coupon) == "cap_session"
    other = DecisionContext("u2", "s2", 0.2, 0.9, cart_value=150.0, timestamp=NOON)
    assert mine.reason_blocked(other, coupon) == "cap_budget"  # 15 of 20 spent; another 15 does not fit
    assert mine.spent == theirs.spent == {date(2026, 1, 5): coupon.cost(150.0)}
    counters = redis.Redis.from_url(redis_url)
    for key in ("spent:2026-01-05", "user:2026-01-05:u1", "session:s1", "days"):
        assert DAY_TTL_S - 60 < counters.ttl(f"{prefix}caps:{key}") <= DAY_TTL_S  # 2 days after the charge
    assert mine.reserve(other, ACTIONS["nothing"]) == 0.0


def test_an_outcome_joins_a_decision_issued_by_another_process(redis_url: str) -> None:  # noqa: F811
    prefix = f"test-{uuid.uuid4().hex}:"
    first, second = (DecisionEngine(ledger=RedisCapLedger(redis_url, prefix=prefix),
                                    issued=RedisIssuedDecisions(redis_url, prefix=prefix), random_state=0)
                     for _ in range(2))
    decision = first.decide(context(1))
    ttl = redis.Redis.from_url(redis_url).ttl(f"{prefix}decisions:{decision.decision_id}")
    assert DECISION_TTL_S - 60 < ttl <= DECISION_TTL_S
    assert second.record_outcome(decision.decision_id, "purchase", 12.0).value == 12.0
    with pytest.raises(UnknownDecision):
        second.record_outcome("never-issued", "purchase", 1.0)


def test_log_lines_from_several_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    processes = _processes()
    writers = [processes.Process(target=append, args=(str(path), w, 100)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=60)
    frame = read_decisions(path)  # a torn or interleaved line would fail to parse here
    assert len(frame) == 400 and frame["decision_id"].is_unique
    for decision_id, logged in zip(frame["decision_id"], frame["context"], strict=True):
        assert logged["intent"].startswith("w" + decision_id.split("-")[0] + "-")
