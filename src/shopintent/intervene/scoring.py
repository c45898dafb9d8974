"""Purchase probability and abandonment risk of a live session, behind a small protocol.

The engine needs, for the session it decides on, how likely the shopper is to
buy and how likely to leave a filled cart. :class:`HeuristicDecisionScorer` is a
transparent logistic score of the session's counts (carts and favourites raise
intent, a long unconverted browse lowers it);
:class:`~shopintent.intervene.behaviour_scoring.BehaviourDecisionScorer` puts the
behaviour package's trained models behind the same protocol. Anything with a
``score(counts)`` method returning :class:`SessionScores` plugs in
(:class:`DecisionScorer`).

:class:`SessionCounts` is only what these scorers read: running counts of one
session. The service's view of a session is
:class:`~shopintent.serve.state.base.LiveSessionState`, and the behaviour
models' feature state :class:`~shopintent.behaviour.features.SessionFeatureState`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SessionCounts:
    """Running counts of one session, updated event by event."""

    user_id: str
    session_id: str
    start_s: float = 0.0
    last_s: float = 0.0
    n_events: int = 0
    n_views: int = 0
    n_add_to_cart: int = 0
    n_favourite: int = 0
    n_purchase: int = 0
    items: set[str] = field(default_factory=set)
    cart_items: set[str] = field(default_factory=set)

    def update(self, event_type: str, item_id: str | None, t_s: float) -> None:
        """Fold one event (canonical type name, item, unix seconds) into the counts."""
        if self.n_events == 0:
            self.start_s = t_s
        self.last_s = t_s
        self.n_events += 1
        if item_id is not None:
            self.items.add(item_id)
        if event_type == "view":
            self.n_views += 1
        elif event_type == "add_to_cart":
            self.n_add_to_cart += 1
            if item_id is not None:
                self.cart_items.add(item_id)
        elif event_type == "remove_from_cart" and item_id is not None:
            self.cart_items.discard(item_id)
        elif event_type == "favourite":
            self.n_favourite += 1
        elif event_type == "purchase":
            self.n_purchase += 1
            if item_id is not None:
                self.cart_items.discard(item_id)

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the latest event."""
        return self.last_s - self.start_s

    @property
    def events_per_minute(self) -> float:
        """Event rate (bots click far faster than people)."""
        return self.n_events / max(self.duration_s / 60.0, 1.0)


@dataclass(frozen=True, slots=True)
class SessionScores:
    """What the engine needs to know about a session right now."""

    purchase_probability: float
    abandonment_risk: float
    risk_score: float = 0.0


class DecisionScorer(Protocol):
    """What the decision engine's replay asks to score a session (heuristic or behaviour models)."""

    def score(self, state: SessionCounts) -> SessionScores:
        """Purchase probability, abandonment risk and risk score of the session."""
        ...


#: Events per minute at and above which a session scores risk 1 (people rarely pass 10).
BOT_RATE = 30.0
#: Events a session needs before its click rate counts (a quick double click is not a bot).
BOT_MIN_EVENTS = 10


def bot_risk_score(n_events: int, duration_s: float, bot_rate: float = BOT_RATE) -> float:
    """The bot-rate risk heuristic (0..1): events per minute over ``bot_rate``, capped at 1.

    Sessions of fewer than :data:`BOT_MIN_EVENTS` events score 0. This is the
    single implementation: the engine's replay and the HTTP service both use it
    until a risk model replaces it.
    """
    if n_events < BOT_MIN_EVENTS:
        return 0.0
    per_minute = n_events / max(duration_s / 60.0, 1.0)
    return min(per_minute / bot_rate, 1.0)


class HeuristicDecisionScorer:
    """A transparent logistic score of session counts; no training, every weight visible.

    ``purchase_probability = σ(b + w_cart·log1p(carts) + w_fav·log1p(favs)
    + w_view·log1p(views) + w_items·log1p(distinct items))``; the abandonment
    risk is the chance a non-empty cart is left unbought,
    ``(cart non-empty) · (1 − purchase_probability)``; the risk score rises with
    bot-like click rates (``bot_rate`` events per minute and above scores 1).
    """

    def __init__(
        self,
        bias: float = -3.2,
        w_cart: float = 1.1,
        w_favourite: float = 0.5,
        w_view: float = 0.25,
        w_items: float = -0.2,
        bot_rate: float = BOT_RATE,
    ) -> None:
        self.bias = bias
        self.w_cart = w_cart
        self.w_favourite = w_favourite
        self.w_view = w_view
        self.w_items = w_items
        self.bot_rate = bot_rate

    def score(self, state: SessionCounts) -> SessionScores:
        """Score one session from its counts."""
        logit = (
            self.bias
            + self.w_cart * math.log1p(state.n_add_to_cart)
            + self.w_favourite * math.log1p(state.n_favourite)
            + self.w_view * math.log1p(state.n_views)
            + self.w_items * math.log1p(len(state.items))
        )
        purchase = 1.0 / (1.0 + math.exp(-logit))
        abandonment = (1.0 - purchase) if state.cart_items else 0.0
        risk = bot_risk_score(state.n_events, state.duration_s, self.bot_rate)
        return SessionScores(purchase, abandonment, risk)

