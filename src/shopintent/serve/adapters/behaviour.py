"""Live session scores (purchase probability, abandonment risk, next action, reasons).

:class:`shopintent.behaviour.SessionScorer` is incremental: one scorer holds
one session. The service keeps sessions in shared state (possibly Redis, for
stateless workers), so it re-plays a session's stored events into a reused
scorer when it needs a score — O(events in the session), about a millisecond
for a typical session — instead of keeping a scorer object per session.
"""

from __future__ import annotations

import threading
from typing import Any

from shopintent.serve.adapters.base import ModelSlot, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.serve.state.base import SessionState
from shopintent.settings import Settings


class ReplayScorer:
    """Scores a :class:`SessionState` by replaying its events into one reused scorer."""

    def __init__(self, scorer: Any, state_factory: Any) -> None:
        self._scorer = scorer
        self._new_state = state_factory
        self._lock = threading.Lock()

    def score(self, state: SessionState) -> dict[str, Any]:
        events = sorted(state.events, key=lambda e: e[1])
        if not events:
            raise ValueError(f"session {state.session_id} has no events to score")
        with self._lock:
            self._scorer.state = self._new_state()
            for event_type, ts, item, category in events:
                self._scorer.state.update(event_type, float(ts), item, category)
            result = self._scorer.score()
        out = plain(result.as_dict() if hasattr(result, "as_dict") else result)
        out["events_scored"] = len(events)
        return out


def behaviour_slot(settings: Settings) -> ModelSlot[ReplayScorer]:
    """The default event models of :mod:`shopintent.behaviour` (trained on Taobao, cached)."""

    def load() -> tuple[ReplayScorer, dict[str, Any]]:
        load_models, scorer_cls = import_or_unavailable(
            "behaviour", "shopintent.behaviour", ("load_default_models", "SessionScorer"),
            "issue: behaviour")
        (state_cls,) = import_or_unavailable("behaviour", "shopintent.behaviour.features",
                                             ("SessionState",), "issue: behaviour")
        models = load_models(settings)
        scorer = scorer_cls(models, n_reasons=3)
        offset = scorer.utc_offset_hours
        card: dict[str, Any] = {"version": "default", "tasks": sorted(models)}
        for task, model in models.items():
            card[task] = {k: getattr(model, k) for k in ("n_train_",) if hasattr(model, k)}
        return ReplayScorer(scorer, lambda: state_cls(None, offset)), plain(card)

    return ModelSlot("behaviour", load)


def score_sessions(slot: ModelSlot[ReplayScorer], states: list[SessionState]) -> list[dict[str, Any]]:
    """One score record per session, in order."""
    scorer = slot.get()
    return [scorer.score(s) for s in states]
