"""Proactive intervention: a decision engine that logs its propensities, and off-policy evaluation.

Public API (what the service and the CLI call):

- :class:`DecisionEngine` — ``decide(context) -> Decision``,
  ``record_outcome(decision_id, outcome)``; :func:`load_default_engine`.
- :class:`DecisionContext`, :class:`CapConfig`, :class:`UpliftPolicy`, the
  action catalogue :data:`DEFAULT_ACTIONS`.
- Off-policy evaluation: the estimators in :mod:`.estimators`,
  :func:`evaluate_logged_policy` (the Saito et al. check on OBD),
  :func:`read_decisions` / :func:`to_feedback` (the engine's own log).

Off-policy evaluation on real logs (the Open Bandit Dataset's uniform-random
campaign, 4,000 rounds): a target policy that is itself uniform gets weight 1
on every round, so IPS gives back exactly the logged mean reward, and a
policy that always shows one item is estimated from that item's rounds only:

>>> import numpy as np
>>> from shopintent.samples import obd_feedback
>>> from shopintent.intervene import IPS
>>> logs = obd_feedback()
>>> uniform = np.full((logs.n_rounds, logs.n_actions), 1 / logs.n_actions)
>>> bool(np.isclose(IPS().estimate(logs, uniform), logs.reward.mean()))
True
>>> always_first = np.zeros_like(uniform)
>>> always_first[:, 0] = 1.0
>>> first_item_rewards = logs.reward[logs.action == 0].sum()
>>> value = IPS().estimate(logs, always_first)
>>> bool(np.isclose(value, first_item_rewards * logs.n_actions / logs.n_rounds))
True
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from shopintent.intervene.actions import DEFAULT_ACTIONS, Action
from shopintent.intervene.caps import CapConfig
from shopintent.intervene.context import DecisionContext
from shopintent.intervene.decision_log import DecisionLog, read_decisions, to_feedback
from shopintent.intervene.engine import DecisionDetail, DecisionEngine, UnknownDecision, load_default_engine
from shopintent.intervene.feedback import FeedbackError, LoggedFeedback
from shopintent.intervene.scoring import DecisionScorer, HeuristicDecisionScorer, SessionCounts, SessionScores

if TYPE_CHECKING:
    from shopintent.intervene.estimators import (
        IPS,
        SNIPS,
        ClippedIPS,
        DirectMethod,
        DoublyRobust,
        SwitchDR,
        default_estimators,
    )
    from shopintent.intervene.ope import OPEReport, evaluate_logged_policy
    from shopintent.intervene.policy import UpliftPolicy

#: Names imported on first use: off-policy evaluation and fitting need scikit-learn (and SciPy),
#: deciding does not, so the service (which imports this package for the engine) never loads them.
_LAZY = {
    **dict.fromkeys(("IPS", "SNIPS", "ClippedIPS", "DirectMethod", "DoublyRobust", "SwitchDR",
                     "default_estimators"), "shopintent.intervene.estimators"),
    **dict.fromkeys(("OPEReport", "evaluate_logged_policy"), "shopintent.intervene.ope"),
    "UpliftPolicy": "shopintent.intervene.policy",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
