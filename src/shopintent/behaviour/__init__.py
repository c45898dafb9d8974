"""Behavioural intent: purchase, cart abandonment and next action from what shoppers do.

Public API (the HTTP service and the CLI use these):

- :class:`SessionScorer` — ``update(event) -> Score`` for a live session, with reasons;
- :func:`load_default_scorer` — a scorer over models trained on the Taobao log (cached);
- :class:`EventIntentModel` — LightGBM prefix models for ``purchase`` / ``abandon`` / ``next-action``;
- :class:`SessionPurchaseModel` — session-level purchase model on aggregated sessions (UCI);
- :class:`SequenceIntentModel` — the GRU over event sequences;
- :class:`RepeatPurchaseModel` — per-customer future purchases (CDNOW), beside BG/NBD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopintent.behaviour.default import load_default_models, load_default_scorer
    from shopintent.behaviour.event_models import EventIntentModel
    from shopintent.behaviour.features import SessionFeatureState, UserHistory
    from shopintent.behaviour.repeat import RepeatPurchaseModel
    from shopintent.behaviour.scorer import Reason, Score, SessionScorer
    from shopintent.behaviour.sequence import SequenceIntentModel
    from shopintent.behaviour.session_purchase import SessionPurchaseModel

# Imported lazily: LightGBM and torch are heavy, and most callers need one of these only.
_EXPORTS = {
    "load_default_models": "default", "load_default_scorer": "default",
    "EventIntentModel": "event_models", "SessionFeatureState": "features", "UserHistory": "features",
    "RepeatPurchaseModel": "repeat", "Reason": "scorer", "Score": "scorer",
    "SessionScorer": "scorer", "SequenceIntentModel": "sequence",
    "SessionPurchaseModel": "session_purchase",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'shopintent.behaviour' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"shopintent.behaviour.{_EXPORTS[name]}"), name)
