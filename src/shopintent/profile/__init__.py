"""Shopper profiles (用户画像): per pseudonymous shopper, what they do, like and are likely to do next.

``features`` defines the columns; ``batch`` computes them from the event store in
portable SQL (DuckDB or Spark); ``incremental`` keeps them up to date event by
event; ``model`` adds the segment and the predicted purchase / churn
probabilities; ``build`` ties them to the store and the state folder.
"""

from shopintent.profile.batch import batch_profile_features
from shopintent.profile.build import ProfileNotFound, ProfilesMissing, build_profiles, load_profiles, profile_of
from shopintent.profile.incremental import IncrementalProfiles
from shopintent.profile.model import ProfileModel

__all__ = [
    "IncrementalProfiles",
    "ProfileModel",
    "ProfileNotFound",
    "ProfilesMissing",
    "batch_profile_features",
    "build_profiles",
    "load_profiles",
    "profile_of",
]
