"""Score reasons in plain words: what the feature says about the session, and which way it pushed.

Why: the scorer explains a purchase probability as per-feature pushes on the
log-odds (:class:`~shopintent.behaviour.scorer.Reason`), named after model
columns such as ``items_per_event`` or ``prior_items``. A shop's staff reads
"3 items in the cart ↑" at a glance; a column name they would have to look
up. Every name in :data:`~shopintent.behaviour.features.FEATURE_NAMES` has
one phrase here (a test holds that), built from the feature's current value.
The arrow is the direction of the push: ↑ raised the purchase probability,
↓ lowered it.

"This item" is the item of the session's latest event, "earlier visits" are
the shopper's earlier sessions (as far as the service or the training data
saw them), and "shop time" is the local time the models were trained with
(Taobao: UTC+8).

>>> in_words("open_cart_items", 3.0, 0.41)
'3 items in the cart ↑'
>>> in_words("prior_sessions", 3.0, 0.2)
'4th visit ↑'
>>> in_words("last_gap_s", 720.0, -0.3)
'12 min since the previous event ↓'
>>> in_words("since_prior_h", None, -0.1)
'no earlier visit ↓'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from shopintent.behaviour.features import FEATURE_NAMES

#: Arrow for a reason that raised / lowered the purchase probability.
UP, DOWN = "↑", "↓"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _count(n: float, singular: str, plural: str | None = None) -> str:
    """``3 items`` / ``1 item`` / ``no items`` (counts are whole numbers stored as floats)."""
    whole = int(round(n))
    if whole == 1:
        return f"1 {singular}"
    return f"{f'{whole:,}' if whole else 'no'} {plural or singular + 's'}"


def _times(n: float) -> str:
    whole = int(round(n))
    return "once" if whole == 1 else "twice" if whole == 2 else f"{whole:,} times"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def _duration(seconds: float) -> str:
    """A span as people say it: ``45 s``, ``12 min``, ``3 h``, ``2 days``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        hours = seconds / 3600
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.0f} days"


def _share(x: float) -> str:
    return f"{x * 100:.0f}%"


def _flag(yes: str, no: str) -> Callable[[float], str]:
    """A phrase for a 0/1 feature."""
    return lambda v: yes if v >= 0.5 else no


def _or_none(when_none: str, phrase: Callable[[float], str]) -> Callable[[float | None], str]:
    """A phrase for a feature that is undefined (NaN, sent as None) until something happens."""
    return lambda v: when_none if v is None else phrase(v)


def _clock(hour: float) -> str:
    minutes = int(hour * 60) % (24 * 60)
    return f"at {minutes // 60:02d}:{minutes % 60:02d} shop time"


def _visit(prior: float) -> str:
    n = int(round(prior))
    return "first visit" if n == 0 else f"{_ordinal(n + 1)} visit"


Phrase = Callable[[Any], str]

#: Features that are undefined (NaN) until something happens (see ``SessionFeatureState.vector``).
UNDEFINED_UNTIL_SEEN = frozenset({"mean_gap_s", "last_gap_s", "max_gap_s", "since_prior_h"})

#: One phrase per feature, from its current value (``None`` where the feature is undefined).
PHRASES: dict[str, Phrase] = {
    "k": lambda v: _count(v, "event") + " this session",
    "n_view": lambda v: _count(v, "view") + " this session",
    "n_add_to_cart": lambda v: _count(v, "add to cart", "adds to cart") + " this session",
    "n_favourite": lambda v: _count(v, "favourite") + " this session",
    "n_purchase": lambda v: ("no purchase yet this session" if v < 0.5
                             else _count(v, "purchase") + " this session"),
    "n_other": lambda v: _count(v, "other event") + " (search, remove from cart) this session",
    "share_view": lambda v: f"{_share(v)} of events are views",
    "share_add_to_cart": lambda v: f"{_share(v)} of events are adds to cart",
    "share_favourite": lambda v: f"{_share(v)} of events are favourites",
    "n_items": lambda v: _count(v, "different item") + " looked at",
    "n_categories": lambda v: _count(v, "category", "categories") + " looked at",
    # Distinct items / events is the share of events that were the first on their item.
    "items_per_event": lambda v: ("every event on a new item" if v >= 0.995
                                  else f"{_share(v)} of events on a new item"),
    "duration_s": lambda v: "session just started" if v < 1 else f"session {_duration(v)} long",
    "mean_gap_s": _or_none("only one event so far",
                           lambda v: f"{_duration(v)} between events on average"),
    "last_gap_s": _or_none("first event of the session",
                           lambda v: f"{_duration(v)} since the previous event"),
    "max_gap_s": _or_none("only one event so far", lambda v: f"longest pause {_duration(v)}"),
    "last_view": _flag("latest event a view", "latest event not a view"),
    "last_add_to_cart": _flag("latest event an add to cart", "latest event not an add to cart"),
    "last_favourite": _flag("latest event a favourite", "latest event not a favourite"),
    "last_purchase": _flag("latest event a purchase", "latest event not a purchase"),
    "prev_view": _flag("event before it a view", "event before it not a view"),
    "prev_add_to_cart": _flag("event before it an add to cart",
                              "event before it not an add to cart"),
    "prev_favourite": _flag("event before it a favourite", "event before it not a favourite"),
    "prev_purchase": _flag("event before it a purchase", "event before it not a purchase"),
    "last_item_events": lambda v: _count(v, "event") + " on this item",
    "last_item_views": lambda v: (f"this item viewed {_times(v)}" if v >= 0.5
                                  else "this item not viewed yet"),
    "last_item_carted": _flag("this item in the cart", "this item not in the cart"),
    "last_item_faved": _flag("this item favourited", "this item not favourited"),
    "last_category_events": lambda v: _count(v, "event") + " in this category",
    "same_item_run": lambda v: _count(v, "event") + " in a row on this item",
    "open_cart_items": lambda v: _count(v, "item") + " in the cart",
    "faved_items": lambda v: _count(v, "item") + " favourited",
    "last_item_seen_before": _flag("this item seen on an earlier visit",
                                   "this item new to the shopper"),
    "last_item_in_prior_cart": _flag("this item left in an earlier cart",
                                     "this item not in an earlier cart"),
    "last_item_prior_bought": _flag("this item bought before", "this item never bought before"),
    "hour": _clock,
    "weekday": lambda v: f"on a {_WEEKDAYS[int(v) % 7]}",
    "prior_sessions": _visit,
    "prior_events": lambda v: _count(v, "event") + " on earlier visits",
    "prior_views": lambda v: _count(v, "view") + " on earlier visits",
    "prior_carts": lambda v: _count(v, "add to cart", "adds to cart") + " on earlier visits",
    "prior_favs": lambda v: _count(v, "favourite") + " on earlier visits",
    "prior_purchases": lambda v: _count(v, "purchase") + " on earlier visits",
    "prior_buy_sessions": lambda v: ("never bought on an earlier visit" if v < 0.5
                                     else "bought on " + _count(v, "earlier visit")),
    "prior_open_carts": lambda v: _count(v, "item") + " left in earlier carts",
    "prior_items": lambda v: _count(v, "item") + " seen on earlier visits",
    "since_prior_h": _or_none("no earlier visit",
                              lambda v: f"last visit {_duration(v * 3600)} before this one"),
}
_MISSING = sorted(set(FEATURE_NAMES) - set(PHRASES))
if _MISSING:  # pragma: no cover - guarded by tests/behaviour/test_reasons.py
    raise ImportError(f"behaviour/reasons.py has no phrase for feature(s) {_MISSING}")


def phrase(feature: str, value: float | None) -> str:
    """What ``feature`` at ``value`` says about the session, in words (no direction)."""
    try:
        make = PHRASES[feature]
    except KeyError:
        raise ValueError(f"no words for feature {feature!r}: it is not one of behaviour.features."
                         "FEATURE_NAMES") from None
    if value is not None and math.isnan(value):
        value = None
    if value is None and feature not in UNDEFINED_UNTIL_SEEN:
        raise ValueError(f"feature {feature!r} has no value; only {sorted(UNDEFINED_UNTIL_SEEN)} "
                         "may be undefined")
    return make(value)


def arrow(contribution: float) -> str:
    """↑ when the reason raised the purchase log-odds, ↓ when it lowered them, else ""."""
    return UP if contribution > 0 else DOWN if contribution < 0 else ""


def in_words(feature: str, value: float | None, contribution: float) -> str:
    """The reason as the dashboard shows it: ``"3 items in the cart ↑"``."""
    direction = arrow(contribution)
    text = phrase(feature, value)
    return f"{text} {direction}" if direction else text


def describe(reason: Any) -> str:
    """:func:`in_words` for a :class:`~shopintent.behaviour.scorer.Reason` or its ``as_dict()``."""
    if isinstance(reason, Mapping):
        missing = [k for k in ("feature", "contribution") if k not in reason]
        if missing:
            raise ValueError(f"reason {dict(reason)!r} lacks {missing}")
        return in_words(str(reason["feature"]), reason.get("value"), float(reason["contribution"]))
    return in_words(reason.feature, reason.value, reason.contribution)
