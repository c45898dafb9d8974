"""Shopper profiles (用户画像): per pseudonymous shopper, what they do, like and are likely to do next.

``features`` defines the columns; ``batch`` computes them from the event store in
portable SQL (DuckDB or Spark); ``incremental`` keeps them up to date event by
event; ``model`` adds the segment and the predicted purchase / churn
probabilities; ``build`` ties them to the store and the state folder; ``live`` keeps
them current in the service from its store sink. Names are
imported on first use, so the service (which only reads saved profiles) does
not import scikit-learn for them at start.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "IncrementalProfiles": "incremental", "ProfileModel": "model", "ProfileNotFound": "build",
    "ProfilesMissing": "build", "batch_profile_features": "batch", "build_profiles": "build",
    "load_profiles": "build", "profile_of": "build",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'shopintent.profile' has no attribute {name!r}")
    return getattr(importlib.import_module(f"shopintent.profile.{_WHERE[name]}"), name)
