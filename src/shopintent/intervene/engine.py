"""The live decision engine: eligible actions → policy → sampled action → logged decision.

``decide`` runs, under one lock: eligibility, guardrails and caps remove actions
(each with a reason), the policy gives probabilities over what is left, one
action is sampled, the caps ledger reserves it, and the decision is appended to
the log with its exact propensity and the whole probability vector. The lock
is what keeps budgets and frequency caps exact under a concurrent burst in one
process; the work inside it is a few microseconds of arithmetic.

With a ledger shared by several processes
(:class:`~shopintent.intervene.shared_caps.RedisCapLedger`) the reservation is
an atomic check-and-charge in Redis and may fail because another process took
the capacity after this one read the counts. The engine then reads the counts
again, recomputes the eligible set and draws again: the logged propensity is
that of the final draw, over the eligible set it was really drawn from.

Example::

    >>> from shopintent.intervene import DecisionEngine, DecisionContext
    >>> engine = DecisionEngine(log_path=None, random_state=0)
    >>> d = engine.decide(DecisionContext("u1", "s1", purchase_probability=0.2,
    ...                                   abandonment_risk=0.8, cart_value=120.0))
    >>> 0.0 < d.propensity <= 1.0
    True
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shopintent.intervene.actions import DEFAULT_ACTIONS, Action
from shopintent.intervene.caps import CapConfig, CapLedger, CapUsage
from shopintent.intervene.context import DecisionContext
from shopintent.intervene.decision_log import DecisionLog, default_log_path
from shopintent.intervene.group_constraint import DecisionConstraint
from shopintent.intervene.uplift_scoring import UpliftScorer
from shopintent.log import get_logger
from shopintent.persist import MODEL_FILE, LegacyModelError
from shopintent.schema.records import Decision, Outcome
from shopintent.settings import Settings

log = get_logger(__name__)

#: Draws per decision before the engine stops competing for capped actions (see ``decide_detailed``).
MAX_DRAWS = 8


class Ledger(Protocol):
    """What the engine needs of a cap ledger (in-process :class:`CapLedger` or the shared one)."""

    config: CapConfig
    blocked: dict[str, int]

    def usage(self, context: DecisionContext) -> CapUsage: ...

    def reason_blocked(self, context: DecisionContext, action: Action,
                       usage: CapUsage | None = None) -> str | None: ...

    def reserve(self, context: DecisionContext, action: Action) -> float | None: ...

    @property
    def spent(self) -> Mapping[Any, float]: ...


class IssuedIds(Protocol):
    """The ids of decisions issued (a set in one process, Redis keys across workers)."""

    def add(self, decision_id: str) -> None: ...

    def __contains__(self, decision_id: object) -> bool: ...


@dataclass(frozen=True)
class DecisionDetail:
    """A decision with everything that led to it (for the service and the replay)."""

    decision: Decision
    probabilities: dict[str, float]
    blocked: dict[str, str]
    reserved_cost: float


class UnknownDecision(KeyError):
    """An outcome names a decision id this engine never issued."""


class DecisionEngine:
    """Chooses interventions under caps and logs every choice with its propensity.

    Parameters
    ----------
    policy:
        Scores and explores (default: the prior policy). Any
        :class:`~shopintent.intervene.uplift_scoring.UpliftScorer`, such as a fitted
        :class:`~shopintent.intervene.policy.UpliftPolicy`.
    caps:
        Budget, frequency, eligibility and guardrail limits.
    actions:
        The catalogue; the first action must be the no-op ``nothing``.
    log_path:
        Decision log file (JSON lines); ``None`` keeps no log (tests, dry runs).
    random_state:
        Seed of the sampler (decisions are reproducible given the same inputs).
    ledger:
        Where caps are counted; default an in-process :class:`CapLedger` over
        ``caps``. Pass a :class:`~shopintent.intervene.shared_caps.RedisCapLedger`
        to hold caps across processes (then ``caps`` must be left out).
    issued:
        Where issued decision ids are kept for :meth:`record_outcome`; default
        a set in this process.
    constraint:
        An extra rule over interventions (e.g. a bounded offer-rate ratio between
        two groups, :class:`~shopintent.intervene.group_constraint.GroupRateConstraint`);
        it blocks with its own reason and is told every decision.
    """

    def __init__(
        self,
        policy: UpliftScorer | None = None,
        caps: CapConfig | None = None,
        actions: Sequence[Action] = DEFAULT_ACTIONS,
        log_path: Path | None = None,
        random_state: int | None = None,
        ledger: Ledger | None = None,
        issued: IssuedIds | None = None,
        constraint: DecisionConstraint | None = None,
    ) -> None:
        if not actions or actions[0].is_intervention:
            raise ValueError("the first action of the catalogue must be the no-op (kind 'none')")
        if ledger is not None and caps is not None:
            raise ValueError("pass caps or a ledger (which carries its own caps), not both")
        self.policy = policy or UpliftScorer()
        self.actions = tuple(actions)
        self.ledger: Ledger = ledger if ledger is not None else CapLedger(caps or CapConfig())
        self.log = DecisionLog(log_path) if log_path is not None else None
        self._rng = np.random.default_rng(random_state)
        self._lock = threading.Lock()
        self._issued: IssuedIds = issued if issued is not None else set()
        self.constraint = constraint
        self.n_decisions = 0
        #: Draws thrown away because another process reserved the capacity first.
        self.n_redraws = 0

    def decide_detailed(self, context: DecisionContext | Mapping[str, Any]) -> DecisionDetail:
        """Choose an action for ``context`` and log it; returns the decision and its reasons."""
        if not isinstance(context, DecisionContext):
            context = DecisionContext.from_dict(context)
        when = context.timestamp or datetime.now(UTC)
        with self._lock:
            eligible, blocked, probs, k, reserved = self._draw(context)
            chosen = eligible[k]
            if self.constraint is not None:
                self.constraint.record(context.user_id, float(chosen.is_intervention))
            for reason in blocked.values():
                self.ledger.blocked[reason] += 1
            decision = Decision(
                decision_id=uuid.uuid4().hex,
                timestamp=when,
                user_id=context.user_id,
                session_id=context.session_id,
                action=chosen.name,
                propensity=float(probs[k]),
                policy_version=self.policy.version,
                context=context.as_dict(),
            )
            self.n_decisions += 1
        self._issued.add(decision.decision_id)
        probabilities = {a.name: float(p) for a, p in zip(eligible, probs, strict=True)}
        if self.log is not None:
            self.log.append_decision(decision, probabilities, blocked)
        return DecisionDetail(decision, probabilities, blocked, reserved)

    def _draw(self, context: DecisionContext) -> tuple[list[Action], dict[str, str], np.ndarray, int, float]:
        """Eligible set, blocked reasons, probabilities, the drawn index and its reserved cost.

        Draws until the ledger reserves the drawn action; a failed reservation
        means another process took the capacity, so the counts are read again.
        The last draw allows only the no-op, whose reservation cannot fail.
        """
        for draw in range(MAX_DRAWS):
            usage = self.ledger.usage(context) if draw < MAX_DRAWS - 1 else None
            eligible, blocked = self._eligible(context, usage)
            probs = self.policy.probabilities(context, eligible)
            k = int(self._rng.choice(len(eligible), p=probs))
            reserved = self.ledger.reserve(context, eligible[k])
            if reserved is not None:
                return eligible, blocked, probs, k, reserved
            self.n_redraws += 1
        raise RuntimeError("no action could be reserved, not even the no-op")

    def _eligible(self, context: DecisionContext, usage: CapUsage | None) -> tuple[list[Action], dict[str, str]]:
        """Actions open to ``context`` under ``usage`` and the reasons the others are not.

        ``usage`` None means "stop competing": every intervention is blocked as
        ``cap_contention`` (another process kept taking the capacity first).
        """
        eligible, blocked = [], {}
        for action in self.actions:
            if usage is None and action.is_intervention:
                reason: str | None = "cap_contention"
            else:
                reason = self.ledger.reason_blocked(context, action, usage)
            if reason is None and self.constraint is not None:
                reason = self.constraint.reason_blocked(context, action)
            if reason is None:
                eligible.append(action)
            else:
                blocked[action.name] = reason
        return eligible, blocked

    def decide(self, context: DecisionContext | Mapping[str, Any]) -> Decision:
        """Choose an action for ``context``; logged with its propensity."""
        return self.decide_detailed(context).decision

    def record_outcome(
        self, decision_id: str, outcome: Outcome | str = "purchase", value: float = 1.0,
        timestamp: datetime | None = None,
    ) -> Outcome:
        """Append what followed a decision (joined to it by ``decision_id`` in the log)."""
        if decision_id not in self._issued:
            raise UnknownDecision(f"decision_id {decision_id!r} was not issued by this engine")
        if not isinstance(outcome, Outcome):
            outcome = Outcome(decision_id, timestamp or datetime.now(UTC), outcome, float(value))
        elif outcome.decision_id != decision_id:
            raise ValueError(f"outcome names decision {outcome.decision_id!r}, not {decision_id!r}")
        if self.log is not None:
            self.log.append_outcome(outcome)
        return outcome

    def spent(self) -> dict[str, float]:
        """Budget reserved per UTC day (ISO date → amount)."""
        return {day.isoformat(): amount for day, amount in sorted(self.ledger.spent.items())}

    def close(self) -> None:
        """Close the decision log (and a shared ledger's connections)."""
        if self.log is not None:
            self.log.close()
        for part in (self.ledger, self._issued):
            close = getattr(part, "close", None)
            if close is not None:
                close()


def load_default_engine(settings: Settings, random_state: int | None = None,
                        ledger: Ledger | None = None, issued: IssuedIds | None = None) -> DecisionEngine:
    """The engine the service runs: the saved policy if one exists, its log under state_dir.

    ``ledger`` and ``issued`` replace the in-process cap ledger and issued-id
    set (the service passes the Redis ones when it runs with ``--state redis``).

    A policy saved with :meth:`UpliftPolicy.save` in ``state_dir/intervene/policy/``
    is used (its manifest verified; one whose files changed is refused);
    otherwise, or when it was saved in a format this version no longer reads,
    the prior policy. It is loaded as an
    :class:`~shopintent.intervene.uplift_scoring.UpliftScorer` (the same probabilities,
    without importing scikit-learn in the service).
    """
    policy_dir = settings.state_dir / "intervene" / "policy"
    policy = UpliftScorer()
    if (policy_dir / MODEL_FILE).is_file():
        try:
            policy = UpliftScorer.load(policy_dir)
        except LegacyModelError as exc:
            log.warning("saved policy in an old format: the prior policy is used", reason=str(exc))
    log.info("decision engine ready", policy=policy.version, log=str(default_log_path(settings)),
             ledger=type(ledger).__name__ if ledger is not None else "CapLedger")
    return DecisionEngine(policy=policy, log_path=default_log_path(settings), random_state=random_state,
                          ledger=ledger, issued=issued)
