"""The behaviour package's trained event models as the engine's session scorer.

:class:`~shopintent.intervene.scoring.HeuristicDecisionScorer` needs no training
but carries little signal. :class:`BehaviourDecisionScorer` feeds every event
of a replay into :class:`shopintent.behaviour.SessionScorer` (LightGBM models
of purchase and cart abandonment from a session's first events), keeping one
behaviour state per live session and each shopper's history across sessions,
so the engine decides on the same scores the service uses. The bot-rate risk
score still comes from the heuristic: the behaviour models do not estimate it.

:func:`decision_scores` is the service's side: the engine needs only purchase
probability and abandonment risk, so every session due for a decision in one
write group is scored with ONE model call per task on the stacked feature rows
(no next-action models, no reasons), each value computed exactly as
:meth:`shopintent.behaviour.SessionScorer.score` computes it for one session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shopintent.intervene.scoring import HeuristicDecisionScorer, SessionCounts, SessionScores


class BehaviourDecisionScorer:
    """Score sessions with fitted behaviour models, fed event by event through :meth:`observe`.

    ``models`` maps task (``purchase``, ``abandon``) to a fitted
    :class:`shopintent.behaviour.EventIntentModel`. A session that has already
    bought scores purchase probability 1; one with nothing in the cart scores
    abandonment risk 0.
    """

    def __init__(self, models: Mapping[str, Any]) -> None:
        from shopintent.behaviour import SessionScorer

        self._scorer = SessionScorer(models, n_reasons=0)
        self._risk = HeuristicDecisionScorer()
        self._states: dict[str, Any] = {}
        self._open_session_of_user: dict[str, str] = {}
        self._last: dict[str, Any] = {}

    def observe(self, state: SessionCounts, event_type: str, item_id: str | None,
                category_id: str | None, t_s: float) -> None:
        """Fold one event of ``state``'s session into its behaviour state and score it."""
        session = state.session_id
        behaviour_state = self._states.get(session)
        if behaviour_state is None:
            history = None
            previous = self._open_session_of_user.pop(state.user_id, None)
            if previous is not None:  # the shopper's earlier session has ended: remember it
                finished = self._states.pop(previous)
                self._last.pop(previous, None)
                history = finished.history
                history.absorb(finished)
            self._scorer.reset(history)
            self._open_session_of_user[state.user_id] = session
        else:
            self._scorer.state = behaviour_state
        self._last[session] = self._scorer.update(
            {"event_type": event_type, "timestamp": t_s, "item_id": item_id, "category_id": category_id})
        self._states[session] = self._scorer.state

    def score(self, state: SessionCounts) -> SessionScores:
        """The latest behaviour scores of the session (after :meth:`observe` saw its events)."""
        latest = self._last.get(state.session_id)
        if latest is None:
            raise KeyError(f"session {state.session_id!r} has no observed events; call observe() first")
        purchase = 1.0 if latest.purchase_probability is None else latest.purchase_probability
        abandon = 0.0 if latest.abandonment_risk is None else latest.abandonment_risk
        return SessionScores(purchase_probability=float(purchase), abandonment_risk=float(abandon),
                             risk_score=self._risk.score(state).risk_score)


def decision_scores(scorer: Any, states: Sequence[Any]) -> list[tuple[float | None, float | None]]:
    """``(purchase probability, abandonment risk)`` of each behaviour feature state, in order.

    ``scorer`` is a :class:`shopintent.behaviour.SessionScorer` (its models, its
    explainer), ``states`` its :class:`~shopintent.behaviour.features.SessionFeatureState`
    objects. Values are those of ``scorer.score()`` for each state alone, bit for
    bit: LightGBM scores each row of a matrix on its own, and the purchase score
    keeps the explainer's arithmetic (leaf contributions summed per row) when the
    scorer explains. ``None`` as in :class:`~shopintent.behaviour.scorer.Score`: no
    purchase probability once the session bought, no abandonment risk with an
    empty cart. Why: one call per task and write group instead of six per session.
    """
    if not states:
        return []
    rows = np.vstack([state.vector() for state in states])
    purchase: list[float | None] = [None] * len(states)
    abandon: list[float | None] = [None] * len(states)
    if (model := scorer.models.get("purchase")) is not None:
        due = [i for i, state in enumerate(states) if state.counts[3] == 0]
        if due:
            x = rows[due]
            explainer = getattr(scorer, "_explainer", None)
            if explainer is None:
                for i, p in zip(due, model.boosters_["y_purchase"].predict(x, num_threads=1), strict=True):
                    purchase[i] = float(p)
            else:
                for i, raw in zip(due, explainer.raw_scores(x), strict=True):
                    purchase[i] = 1.0 / (1.0 + math.exp(-raw))
    if (model := scorer.models.get("abandon")) is not None:
        due = [i for i, state in enumerate(states) if state.carted]
        if due:
            for i, p in zip(due, model.boosters_["y_abandon"].predict(rows[due], num_threads=1), strict=True):
                abandon[i] = float(p)
    return list(zip(purchase, abandon, strict=True))
