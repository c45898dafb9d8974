"""Build, save and read every shopper's profile from the event store (``shopintent profile build|show``).

Profiles are written to ``state_dir/profile/``: ``profiles.parquet`` (one row
per pseudonymous shopper: only keyed ids leave the store) and ``model/`` (the
:class:`~shopintent.profile.model.ProfileModel`, manifest-checked). The service
reads them for ``GET /v1/users/{id}/profile``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shopintent.log import get_logger
from shopintent.settings import Settings

if TYPE_CHECKING:
    from shopintent.store import EventStore

log = get_logger(__name__)
PROFILE_FILE = "profiles.parquet"


class ProfilesMissing(FileNotFoundError):
    """No profiles have been built in this state folder."""


class ProfileNotFound(KeyError):
    """No profile for this id (the id was never issued, or the profiles predate the shopper)."""


def profile_dir(settings: Settings) -> Path:
    """``state_dir/profile``: where the profiles and their model live."""
    return Path(settings.state_dir) / "profile"


def build_profiles(store: EventStore, settings: Settings, k: int = 5, horizon_days: float = 1.0,
                   seed: int = 0) -> pd.DataFrame:
    """Profiles of every shopper in ``store`` (batch SQL + a model fitted on the same events), saved."""
    from shopintent.profile.batch import batch_profile_features
    from shopintent.profile.model import ProfileModel

    features = batch_profile_features(store.engine())
    events = store.events()
    model = ProfileModel(k=k, horizon_days=horizon_days, seed=seed).fit(events, features)
    profiles = model.annotate(features)
    folder = profile_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model")
    profiles.to_parquet(folder / PROFILE_FILE)
    log.info("profiles built", shoppers=len(profiles), events=len(events), folder=str(folder))
    return profiles


def load_profiles(settings: Settings) -> pd.DataFrame:
    """The saved profiles (raises :class:`ProfilesMissing` naming the command that builds them)."""
    path = profile_dir(settings) / PROFILE_FILE
    if not path.is_file():
        raise ProfilesMissing(f"{path}: no shopper profiles yet; run `shopintent profile build` "
                              "after events are in the store")
    return pd.read_parquet(path)


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def profile_record(profiles: pd.DataFrame, user_id: str) -> dict[str, Any]:
    """One shopper's profile as plain JSON values; the message never echoes the id."""
    if user_id not in profiles.index:
        raise ProfileNotFound("no profile for this id: address a shopper by the pseudonymous `user_id` "
                              "the service issued (the client's own id is not accepted)")
    row = profiles.loc[user_id]
    return {"user_id": user_id, **{k: _plain(v) for k, v in row.items()}}


def profile_of(settings: Settings, user_id: str) -> dict[str, Any]:
    """The saved profile of one pseudonymous shopper."""
    return profile_record(load_profiles(settings), user_id)


def to_json(record: dict[str, Any]) -> str:
    """Indented JSON of a profile record."""
    return json.dumps(record, indent=2, ensure_ascii=False)


class ProfileCache:
    """The saved profiles, re-read only when the file changes (the service answers from memory)."""

    def __init__(self) -> None:
        self._key: tuple[str, float] | None = None
        self._frame: pd.DataFrame | None = None

    def get(self, settings: Settings) -> pd.DataFrame:
        path = profile_dir(settings) / PROFILE_FILE
        key = (str(path), path.stat().st_mtime if path.is_file() else -1.0)
        if self._frame is None or key != self._key:
            self._frame = load_profiles(settings)
            self._key = key
        return self._frame
