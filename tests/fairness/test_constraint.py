"""The engine constraint on the held-out Taobao day: held while deciding, costed by OPE on the same log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.fairness import incentive
from shopintent.intervene.actions import DEFAULT_ACTIONS
from shopintent.intervene.engine import DecisionEngine
from shopintent.intervene.group_constraint import REASON, GroupRateConstraint
from shopintent.intervene.policy import UpliftPolicy
from shopintent.settings import Settings

PAIR = ("less active half", "more active half")


@pytest.fixture(scope="module")
def day(session_settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    events = taobao.load(session_settings).events
    return incentive.shopper_groups(events)


def _offer_rates(decisions: pd.DataFrame, groups: pd.Series) -> dict[str, float]:
    offered = decisions["action"].ne("nothing")
    return offered.groupby(decisions["user_id"].map(groups)).mean().to_dict()


def test_engine_holding_the_constraint_keeps_the_offer_ratio_within_the_bound(day) -> None:  # type: ignore[no-untyped-def]
    events, groups = day
    assert set(groups["shopper"]) == {"returning"}  # the head's shoppers all appear before the last day
    plain, _ = incentive.replay_log(events, lambda p: DecisionEngine(log_path=p, random_state=0))
    before = _offer_rates(plain, groups["activity_half"])
    assert before[PAIR[0]] / before[PAIR[1]] > 1.15  # the less active half gets more offers unconstrained
    bound = GroupRateConstraint(groups["activity_half"].to_dict(), PAIR, max_ratio=1.1)
    held, report = incentive.replay_log(
        events, lambda p: DecisionEngine(log_path=p, random_state=0, constraint=bound))
    after = _offer_rates(held, groups["activity_half"])
    assert after[PAIR[0]] / after[PAIR[1]] <= 1.1 + 0.02  # within the bound (+ the warm-up decisions)
    assert report.caps_hit[REASON] > 0
    assert held["blocked"].map(lambda b: REASON in b.values()).sum() > 0  # the log says why


def test_constrained_policy_is_costed_on_the_same_log(day) -> None:  # type: ignore[no-untyped-def]
    events, groups = day
    decisions, _ = incentive.replay_log(events, lambda p: DecisionEngine(log_path=p, random_state=0))
    policy = UpliftPolicy()
    logged = incentive.logged_action_dist(decisions)
    np.testing.assert_allclose(logged[np.arange(len(decisions)),
                                      [[a.name for a in DEFAULT_ACTIONS].index(x) for x in decisions["action"]]],
                               decisions["propensity"], rtol=1e-9)
    cost = incentive.constraint_cost(decisions, groups["activity_half"], PAIR, 1.1, policy, n_boot=100)
    est = cost.estimates
    # On-policy, IPS with the logging policy's own distribution is the plain mean reward.
    assert est["logged"]["purchase_rate_ips"]["value"] == pytest.approx(decisions["reward"].clip(0, 1).mean())
    rates = cost.offer_rates
    assert rates["constrained"][PAIR[0]] < rates["logged"][PAIR[0]]
    assert rates["constrained"][PAIR[0]] / rates["constrained"][PAIR[1]] <= 1.1 + 0.02
    assert est["constrained"]["expected_spend_per_decision"]["value"] < est["logged"]["expected_spend_per_decision"]["value"]


def test_constraint_refuses_bad_groups() -> None:
    with pytest.raises(ValueError, match="group\\(s\\) new have no shopper"):
        GroupRateConstraint({"u": "returning"}, ("new", "returning"))
    with pytest.raises(ValueError, match="max_ratio must be at least 1"):
        GroupRateConstraint({"u": "a", "v": "b"}, ("a", "b"), max_ratio=0.5)
