"""Who gets the incentive: the decision engine replayed over the held-out Taobao day, per group.

The engine is replayed (:func:`shopintent.intervene.replay.replay_events`) over
the events of the last day of the log (2017-12-03, China time), logging every
decision with its propensity. Each decision's shopper is put in a group from
what the store knew *before* the day: ``new`` or ``returning``, and the
activity decile of their earlier events (new shoppers are their own group).
Per group: offer rate (any intervention), coupon rate, reserved spend, the
policy's estimated uplift value of the chosen action, and the purchase rate
that followed, each with a bootstrap interval over decisions.

The optional engine constraint
(:class:`~shopintent.intervene.group_constraint.GroupRateConstraint`) is
costed by off-policy evaluation on the *same* log: the constrained policy's
action distribution at every logged decision is the policy's distribution over
the actions the log left eligible minus those the constraint blocks, the
constraint's counts advancing by the expected offers of that distribution
(:func:`constrained_action_dist`); IPS and SNIPS estimate its purchase rate
and expected spend beside the logged policy's. The historic log had no
interventions, so the rewards measure what shoppers did anyway: the estimate
is of the constraint's cost under that log, not of coupons' real effect.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent.fairness.audit import ModelAudit, audit_means
from shopintent.fairness.bootstrap import N_BOOT
from shopintent.fairness.groups import MIN_GROUP_ROWS, deciles
from shopintent.intervene.actions import DEFAULT_ACTIONS, Action
from shopintent.intervene.context import DecisionContext
from shopintent.intervene.decision_log import read_decisions, to_feedback
from shopintent.intervene.engine import DecisionEngine
from shopintent.intervene.estimators import IPS, SNIPS, estimate_intervals
from shopintent.intervene.group_constraint import GroupRateConstraint
from shopintent.intervene.policy import UpliftPolicy
from shopintent.intervene.replay import replay_events

#: The held-out day (China time), as the intervene benchmark's replay.
TEST_DAY = pd.Timestamp("2017-12-03", tz="Asia/Shanghai")


def shopper_groups(events: pd.DataFrame, test_day: pd.Timestamp = TEST_DAY) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's events, and per shopper of the day: ``shopper`` (new / returning) and ``activity``.

    ``activity``: decile of the shopper's events before the day among returning
    shoppers (``d01`` least … ``d10`` most), ``new`` for shoppers without any;
    ``activity_half``: deciles 1–5 vs 6–10 (the pair the engine constraint bounds).
    """
    before = events[events["timestamp"] < test_day]
    day = events[events["timestamp"] >= test_day].reset_index(drop=True)
    if day.empty:
        raise ValueError(f"no events on or after {test_day.isoformat()}: nothing to replay")
    users = pd.Index(day["user_id"].astype(str).unique())
    prior = before["user_id"].astype(str).value_counts().reindex(users).fillna(0)
    returning = prior[prior > 0]
    activity = pd.Series("new", index=users)
    if len(returning):
        activity.loc[returning.index] = deciles(returning).to_numpy()
    half = activity.map(lambda d: d if d == "new" else ("less active half" if d <= "d05" else "more active half"))
    groups = pd.DataFrame({"shopper": np.where(prior.to_numpy() > 0, "returning", "new"),
                           "activity": activity.to_numpy(), "activity_half": half.to_numpy()}, index=users)
    return day, groups


def replay_log(day: pd.DataFrame, engine_factory: Any, gap_minutes: float = 30.0) -> tuple[pd.DataFrame, Any]:
    """Replay ``day`` through ``engine_factory(log_path)``; the decision log (rewards = purchases) and report."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.jsonl"
        engine = engine_factory(path)
        report = replay_events(day, engine, gap_minutes=gap_minutes)
        engine.close()
        decisions = read_decisions(path, outcome_kinds=["purchase"])
    return decisions, report


def _context(row: dict[str, Any]) -> DecisionContext:
    fields = DecisionContext.__dataclass_fields__
    return DecisionContext.from_dict({k: v for k, v in row.items() if k in fields})


def decision_values(decisions: pd.DataFrame, policy: UpliftPolicy,
                    actions: Sequence[Action] = DEFAULT_ACTIONS) -> dict[str, np.ndarray]:
    """Per decision: offered (any intervention), coupon, reserved spend, estimated uplift value, purchase."""
    by_name = {a.name: a for a in actions}
    chosen = [by_name[a] for a in decisions["action"]]
    contexts = [_context(c) for c in decisions["context"]]
    return {
        "offer_rate": np.array([a.is_intervention for a in chosen], dtype=float),
        "coupon_rate": np.array([a.kind == "coupon" for a in chosen], dtype=float),
        "spend": np.array([a.cost(c.cart_value) for a, c in zip(chosen, contexts, strict=True)]),
        "uplift_value": np.array([policy.score(c, a) * policy.order_value(c) if a.is_intervention else 0.0
                                  for a, c in zip(chosen, contexts, strict=True)]),
        "purchase_rate": decisions["reward"].to_numpy(dtype=float).clip(0, 1),
    }


def incentive_audit(decisions: pd.DataFrame, groups: pd.DataFrame, policy: UpliftPolicy,
                    min_rows: int = MIN_GROUP_ROWS, n_boot: int = N_BOOT, seed: int = 0,
                    name: str = "decision engine offers (Taobao held-out day)") -> ModelAudit:
    """Per-group offer, coupon, spend, uplift and purchase rates of the logged decisions."""
    users = decisions["user_id"].astype(str)
    unknown = ~users.isin(groups.index)
    if unknown.any():
        raise ValueError(f"decision row {int(np.flatnonzero(unknown.to_numpy())[0]) + 1}: user has no group")
    per_decision = groups.loc[users].reset_index(drop=True)
    return audit_means(name, decision_values(decisions, policy), per_decision, min_rows=min_rows,
                       n_boot=n_boot, seed=seed,
                       detail="one row per decision; intervals resample decisions within each group")


def constrained_action_dist(decisions: pd.DataFrame, policy: UpliftPolicy, constraint: GroupRateConstraint,
                            actions: Sequence[Action] = DEFAULT_ACTIONS) -> np.ndarray:
    """The constrained policy's action distribution at every logged decision (rows in log order)."""
    names = [a.name for a in actions]
    out = np.zeros((len(decisions), len(actions)))
    for i, (user, ctx, logged) in enumerate(zip(decisions["user_id"].astype(str), decisions["context"],
                                                decisions["probabilities"], strict=True)):
        context = _context(ctx)
        eligible = [a for a in actions if a.name in logged and constraint.reason_blocked(context, a) is None]
        probs = policy.probabilities(context, eligible)
        for a, p in zip(eligible, probs, strict=True):
            out[i, names.index(a.name)] = p
        constraint.record(user, float(sum(p for a, p in zip(eligible, probs, strict=True) if a.is_intervention)))
    return out


def logged_action_dist(decisions: pd.DataFrame, actions: Sequence[Action] = DEFAULT_ACTIONS) -> np.ndarray:
    """The logging policy's own distribution at every decision (from the log's probability vectors)."""
    names = [a.name for a in actions]
    return np.array([[row.get(n, 0.0) for n in names] for row in decisions["probabilities"]])


@dataclass
class ConstraintCost:
    """Off-policy value of the logged and the constrained policy on the same decisions."""

    groups: tuple[str, str]
    max_ratio: float
    estimates: dict[str, dict[str, dict[str, float]]]
    offer_rates: dict[str, dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "max_ratio": self.max_ratio, "estimates": self.estimates,
                "offer_rates": self.offer_rates}


def constraint_cost(decisions: pd.DataFrame, groups: pd.Series, pair: tuple[str, str], max_ratio: float,
                    policy: UpliftPolicy, actions: Sequence[Action] = DEFAULT_ACTIONS, min_decisions: int = 50,
                    n_boot: int = N_BOOT, seed: int = 0) -> ConstraintCost:
    """IPS / SNIPS purchase rate and expected spend per decision, logged vs constrained, with intervals."""
    group_of = {str(k): str(v) for k, v in groups.items()}
    constraint = GroupRateConstraint(group_of, pair, max_ratio=max_ratio, min_decisions=min_decisions)
    target = constrained_action_dist(decisions, policy, constraint, actions)
    logged = logged_action_dist(decisions, actions)
    feedback = to_feedback(decisions, actions)
    contexts = [_context(c) for c in decisions["context"]]
    costs = np.array([[a.cost(c.cart_value) for a in actions] for c in contexts])
    offered = np.array([a.is_intervention for a in actions], dtype=float)
    estimates: dict[str, dict[str, dict[str, float]]] = {}
    offer_rates: dict[str, dict[str, float]] = {}
    user_groups = decisions["user_id"].astype(str).map(group_of).to_numpy()
    for name, dist in (("logged", logged), ("constrained", target)):
        estimates[name] = {}
        estimators = [IPS(), SNIPS()]
        intervals = estimate_intervals(estimators, feedback, dist, n_bootstrap=n_boot, random_state=seed)
        for estimator, interval in zip(estimators, intervals, strict=True):
            estimates[name][f"purchase_rate_{estimator.name}"] = {"value": interval.value, "low": interval.low,
                                                                  "high": interval.high}
        estimates[name]["expected_spend_per_decision"] = {"value": float((dist * costs).sum(axis=1).mean())}
        expected_offer = dist @ offered
        offer_rates[name] = {g: float(expected_offer[user_groups == g].mean()) for g in pair}
    return ConstraintCost(groups=pair, max_ratio=max_ratio, estimates=estimates, offer_rates=offer_rates)
