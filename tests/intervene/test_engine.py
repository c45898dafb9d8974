"""The decision engine: caps under a concurrent burst, exact propensities, a log OPE can read."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from shopintent.intervene import (
    DEFAULT_ACTIONS,
    IPS,
    CapConfig,
    DecisionContext,
    DecisionEngine,
    UnknownDecision,
    UpliftPolicy,
    load_default_engine,
    read_decisions,
    to_feedback,
)
from shopintent.intervene.simulate import UpliftEnvironment

NOON = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _context(i: int, users: int = 20, sessions: int = 40) -> DecisionContext:
    return DecisionContext(
        user_id=f"u{i % users}", session_id=f"s{i % sessions}", purchase_probability=0.2,
        abandonment_risk=0.9, cart_value=150.0, intent="question", timestamp=NOON,
    )


def test_caps_are_never_exceeded_under_a_concurrent_burst(tmp_path) -> None:  # type: ignore[no-untyped-def]
    caps = CapConfig(daily_budget=200.0, max_per_user_per_day=2, max_per_session=1)
    # A high-temperature, high-epsilon policy intervenes often, so the caps bind.
    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), caps=caps,
                            log_path=tmp_path / "log.jsonl", random_state=0)
    details = []
    lock = threading.Lock()

    def burst(worker: int) -> None:
        for j in range(100):
            detail = engine.decide_detailed(_context(worker * 100 + j))
            with lock:
                details.append(detail)

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    assert len(details) == 1600
    acted = [d for d in details if d.decision.action != "nothing"]
    per_user = Counter(d.decision.user_id for d in acted)
    per_session = Counter(d.decision.session_id for d in acted)
    spent = sum(d.reserved_cost for d in details)
    assert max(per_user.values()) <= 2
    assert max(per_session.values()) <= 1
    assert spent <= 200.0 + 1e-9
    assert len(acted) == 40  # every session gets its one intervention before the caps close
    assert engine.ledger.blocked["cap_session"] > 1000
    # The log holds every decision, each with a propensity in (0, 1] that matches its probabilities.
    frame = read_decisions(tmp_path / "log.jsonl")
    assert len(frame) == 1600 and frame["decision_id"].is_unique
    assert ((frame["propensity"] > 0) & (frame["propensity"] <= 1)).all()
    for _, row in frame.iterrows():
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)
        assert row["probabilities"][row["action"]] == pytest.approx(row["propensity"])
        assert row["action"] not in row["blocked"]


def test_risky_shopper_is_never_offered_a_coupon() -> None:
    engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), random_state=1,
                            caps=CapConfig(max_per_session=10**6, max_per_user_per_day=10**6, daily_budget=1e9))
    risky = DecisionContext("u", "s", 0.2, 0.9, cart_value=200.0, risk_score=0.9, timestamp=NOON)
    chosen = Counter(engine.decide(risky).action for _ in range(400))
    assert not any(name.startswith("coupon") for name in chosen)
    assert chosen["recommend"] > 50  # the other actions stay open


def test_policy_acts_on_persuadable_shoppers_not_sure_buyers() -> None:
    policy = UpliftPolicy(epsilon=0.05)
    persuadable = DecisionContext("u", "s", 0.15, 0.9, cart_value=200.0)
    sure_buyer = DecisionContext("u", "s", 0.95, 0.05, cart_value=200.0)
    coupon = DEFAULT_ACTIONS[2]
    p_persuadable = policy.probabilities(persuadable, DEFAULT_ACTIONS)[2]
    p_sure = policy.probabilities(sure_buyer, DEFAULT_ACTIONS)[2]
    assert coupon.name == "coupon_10"
    assert p_persuadable > 3 * p_sure
    assert p_sure == pytest.approx(0.05 / len(DEFAULT_ACTIONS), rel=0.5)


def test_context_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="`purchase_probability` 1.5"):
        DecisionContext("u", "s", 1.5, 0.1)
    with pytest.raises(ValueError, match="unknown context field"):
        DecisionContext.from_dict({"user_id": "u", "session_id": "s", "purchase_probability": 0.1,
                                   "abandonment_risk": 0.1, "basket": 3})


def test_outcomes_join_by_decision_id_and_unknown_ids_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    engine = load_default_engine(settings, random_state=0)
    first = engine.decide({"user_id": "u1", "session_id": "s1", "purchase_probability": 0.3,
                           "abandonment_risk": 0.6, "cart_value": 80.0})
    engine.decide(_context(2))
    engine.record_outcome(first.decision_id, "purchase", 24.0)
    engine.record_outcome(first.decision_id, "click", 0.0)
    with pytest.raises(UnknownDecision):
        engine.record_outcome("not-a-decision", "purchase", 1.0)
    engine.close()
    frame = read_decisions(settings.state_dir / "intervene" / "decisions.jsonl")
    assert frame.set_index("decision_id").loc[first.decision_id, "reward"] == 24.0
    assert frame["reward"].sum() == 24.0 and frame["n_outcomes"].tolist() == [2, 0]


def test_engine_log_gives_unbiased_ips_of_another_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Run the engine on a simulated shop, read its own log, evaluate a greedier policy by IPS."""
    env = UpliftEnvironment(random_state=11)
    contexts = env.contexts(3000)
    free = CapConfig(daily_budget=1e12, max_per_user_per_day=10**9, max_per_session=10**9)
    engine = DecisionEngine(policy=UpliftPolicy(epsilon=0.5, temperature=0.05), caps=free,
                            log_path=tmp_path / "d.jsonl", random_state=5)
    actions = {a.name: a for a in DEFAULT_ACTIONS}
    for c in contexts:
        d = engine.decide(c)
        engine.record_outcome(d.decision_id, "net_value", env.draw_reward(c, actions[d.action]))
    engine.close()
    frame = read_decisions(tmp_path / "d.jsonl")
    fb = to_feedback(frame, DEFAULT_ACTIONS)
    target = UpliftPolicy(epsilon=0.05, temperature=0.01)
    # Under these caps only coupons on small carts / risky shoppers are blocked; evaluate on the same sets.
    dist = np.zeros((fb.n_rounds, fb.n_actions))
    for i, (c, probs) in enumerate(zip(contexts, frame["probabilities"], strict=True)):
        eligible = [a for a in DEFAULT_ACTIONS if a.name in probs]
        p = target.probabilities(c, eligible)
        for a, pa in zip(eligible, p, strict=True):
            dist[i, fb.action_names.index(a.name)] = pa
    estimate = IPS().estimate_interval(fb, dist, n_bootstrap=400)
    truth = env.policy_value(contexts, dist)
    assert estimate.covers(truth)
    assert abs(estimate.value - truth) < 0.25 * abs(truth) + 0.5
