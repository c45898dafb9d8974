"""Replay a real event log through the decision engine, in time order.

Events are sessionised with the store's pipeline, then fed one by one in
timestamp order, as a live stream would arrive. Each session's running state is
scored (:class:`~shopintent.intervene.scoring.DecisionScorer`), and the engine
is asked to decide at the moments a shop would act: when something is added to
the cart, and after every ``view_trigger``-th view. A later purchase in the same
session is recorded as an outcome of that session's earlier decisions, joined
by decision id — so the replayed log is in exactly the form the OPE code reads.

The historic log had no interventions, so outcomes here measure what shoppers
did anyway (a baseline for the caps and the scorer), not the effect of the
actions. Taobao events carry no prices: cart value is the number of distinct
items in the cart × ``item_price`` (an assumption stated in every report).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopintent.intervene.context import DecisionContext
from shopintent.intervene.engine import DecisionEngine
from shopintent.intervene.scoring import DecisionScorer, HeuristicDecisionScorer, SessionCounts
from shopintent.log import get_logger
from shopintent.store import sessionise_frame

log = get_logger(__name__)


@dataclass
class DecisionReplayReport:
    """What the engine did over the replayed log."""

    n_events: int
    n_sessions: int
    n_decisions: int
    actions: dict[str, int]
    spent: dict[str, float]
    caps_hit: dict[str, int]
    decisions_followed_by_purchase: int
    purchase_rate_by_action: dict[str, float]
    scorer_auc: float
    latency_ms: dict[str, float]
    elapsed_s: float
    parameters: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return dict(vars(self))


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = pd.Series(scores).rank().to_numpy()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass
class _Tally:
    """What the replay accumulates while it walks the log (one per :func:`replay_events` call)."""

    states: dict[str, SessionCounts] = field(default_factory=dict)
    #: Decision ids of each session still waiting for an outcome.
    pending: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    purchased: set[str] = field(default_factory=set)
    actions: Counter[str] = field(default_factory=Counter)
    decided_action: dict[str, str] = field(default_factory=dict)
    decision_scores: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


def _check_columns(events: pd.DataFrame) -> None:
    missing = [c for c in ("user_id", "timestamp", "event_type") if c not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {', '.join(missing)}; pass canonical events (store schema)")


def _sessions_in_time_order(events: pd.DataFrame, gap_minutes: float) -> pd.DataFrame:
    """The events sessionised with the store's rule, in the order a live stream delivers them."""
    sessions = sessionise_frame(events, gap_minutes)
    return sessions.sort_values(["timestamp", "seq"], kind="stable")


def _rows(sessions: pd.DataFrame) -> Iterator[tuple[object, ...]]:
    """(user, session, event type, item, category, timestamp, unix seconds) per event."""
    seconds = sessions["timestamp"].astype("int64").to_numpy() / 1e6
    return zip(sessions["user_id"], sessions["session_id"], sessions["event_type"],
               sessions["item_id"], sessions["category_id"], sessions["timestamp"], seconds,
               strict=True)


def _record_purchase(engine: DecisionEngine, tally: _Tally, session: str, ts: pd.Timestamp) -> None:
    """A purchase is the outcome of every earlier decision of its session, joined by id."""
    for decision_id in tally.pending.pop(session, []):
        engine.record_outcome(decision_id, "purchase", 1.0, timestamp=ts.to_pydatetime())
        tally.purchased.add(decision_id)


def _decide(engine: DecisionEngine, scorer: DecisionScorer, state: SessionCounts, ts: pd.Timestamp,
            item_price: float, tally: _Tally) -> None:
    """Score the session, ask the engine, and time the decision alone."""
    scores = scorer.score(state)
    context = DecisionContext(
        user_id=state.user_id, session_id=state.session_id,
        purchase_probability=scores.purchase_probability,
        abandonment_risk=scores.abandonment_risk,
        cart_value=len(state.cart_items) * item_price,
        risk_score=scores.risk_score, timestamp=ts.to_pydatetime(),
    )
    t0 = time.perf_counter()
    decision = engine.decide(context)
    tally.latencies.append(time.perf_counter() - t0)
    tally.actions[decision.action] += 1
    tally.pending[state.session_id].append(decision.decision_id)
    tally.decided_action[decision.decision_id] = decision.action
    tally.decision_scores[decision.decision_id] = scores.purchase_probability


def _report(tally: _Tally, n_events: int, engine: DecisionEngine, scorer: DecisionScorer,
            parameters: dict[str, object], elapsed_s: float) -> DecisionReplayReport:
    """Counts, purchase rates by action, the scorer's AUC on decided sessions, and latencies."""
    ids = list(tally.decided_action)
    labels = np.array([i in tally.purchased for i in ids], dtype=int)
    by_action: dict[str, list[int]] = defaultdict(list)
    for i, label in zip(ids, labels, strict=True):
        by_action[tally.decided_action[i]].append(label)
    lat = np.array(tally.latencies) * 1000 if tally.latencies else np.zeros(1)
    return DecisionReplayReport(
        n_events=n_events,
        n_sessions=len(tally.states),
        n_decisions=len(ids),
        actions=dict(tally.actions),
        spent=engine.spent(),
        caps_hit=dict(engine.ledger.blocked),
        decisions_followed_by_purchase=int(labels.sum()),
        purchase_rate_by_action={a: float(np.mean(v)) for a, v in sorted(by_action.items())},
        scorer_auc=_auc(np.array([tally.decision_scores[i] for i in ids]), labels),
        latency_ms={"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
                    "max": float(lat.max())},
        elapsed_s=elapsed_s,
        parameters={**parameters, "policy_version": engine.policy.version,
                    "scorer": type(scorer).__name__, "caps": vars(engine.ledger.config)},
    )


def replay_events(
    events: pd.DataFrame,
    engine: DecisionEngine,
    scorer: DecisionScorer | None = None,
    gap_minutes: float = 30.0,
    view_trigger: int = 5,
    item_price: float = 50.0,
    progress: Callable[[int], None] | None = None,
) -> DecisionReplayReport:
    """Run ``engine`` over canonical ``events`` in time order; see the module docstring."""
    _check_columns(events)
    scorer = scorer or HeuristicDecisionScorer()
    start = time.perf_counter()
    sessions = _sessions_in_time_order(events, gap_minutes)
    tally = _Tally()
    # A scorer with ``observe`` (the behaviour models) sees every event, not only decision points.
    observe = getattr(scorer, "observe", None)
    for k, (user, session, kind, item, category, ts, t_s) in enumerate(_rows(sessions)):
        state = tally.states.get(session)
        if state is None:
            state = tally.states[session] = SessionCounts(user_id=str(user), session_id=str(session))
        item_id = None if pd.isna(item) else str(item)
        state.update(str(kind), item_id, float(t_s))
        if observe is not None:
            observe(state, str(kind), item_id, None if pd.isna(category) else str(category), float(t_s))
        if kind == "purchase":
            _record_purchase(engine, tally, str(session), ts)
        if kind == "add_to_cart" or (kind == "view" and state.n_views % view_trigger == 0):
            _decide(engine, scorer, state, ts, item_price, tally)
        if progress is not None and k % 5000 == 0:
            progress(k)
    report = _report(tally, len(sessions), engine, scorer,
                     {"gap_minutes": gap_minutes, "view_trigger": view_trigger, "item_price": item_price},
                     time.perf_counter() - start)
    log.info("replay finished", decisions=report.n_decisions, events=report.n_events)
    return report
