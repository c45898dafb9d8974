"""Proactive intervention: a decision engine that logs its propensities, and off-policy evaluation.

Public API (what the service and the CLI call):

- :class:`DecisionEngine` — ``decide(context) -> Decision``,
  ``record_outcome(decision_id, outcome)``; :func:`load_default_engine`.
- :class:`DecisionContext`, :class:`CapConfig`, :class:`UpliftPolicy`, the
  action catalogue :data:`DEFAULT_ACTIONS`.
- Off-policy evaluation: the estimators in :mod:`.estimators`,
  :func:`evaluate_logged_policy` (the Saito et al. check on OBD),
  :func:`read_decisions` / :func:`to_feedback` (the engine's own log).
"""

from shopintent.intervene.actions import DEFAULT_ACTIONS, Action
from shopintent.intervene.caps import CapConfig
from shopintent.intervene.context import DecisionContext
from shopintent.intervene.decision_log import DecisionLog, read_decisions, to_feedback
from shopintent.intervene.engine import DecisionDetail, DecisionEngine, UnknownDecision, load_default_engine
from shopintent.intervene.estimators import (
    IPS,
    SNIPS,
    ClippedIPS,
    DirectMethod,
    DoublyRobust,
    SwitchDR,
    default_estimators,
)
from shopintent.intervene.feedback import FeedbackError, LoggedFeedback
from shopintent.intervene.ope import OPEReport, evaluate_logged_policy
from shopintent.intervene.policy import UpliftPolicy
from shopintent.intervene.scoring import DecisionScorer, HeuristicDecisionScorer, SessionCounts, SessionScores

__all__ = [
    "DEFAULT_ACTIONS",
    "IPS",
    "SNIPS",
    "Action",
    "CapConfig",
    "ClippedIPS",
    "DecisionContext",
    "DecisionDetail",
    "DecisionEngine",
    "DecisionLog",
    "DecisionScorer",
    "DirectMethod",
    "DoublyRobust",
    "FeedbackError",
    "HeuristicDecisionScorer",
    "LoggedFeedback",
    "OPEReport",
    "SessionCounts",
    "SessionScores",
    "SwitchDR",
    "UnknownDecision",
    "UpliftPolicy",
    "default_estimators",
    "evaluate_logged_policy",
    "load_default_engine",
    "read_decisions",
    "to_feedback",
]
