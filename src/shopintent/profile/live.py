"""Shopper profiles the service keeps current as its store sink stores events.

Why here and not on the request path: a profile changes when an event is
*stored*, so the store sink (``Service._store_messages``) calls
:meth:`LiveProfiles.catch_up` after each round. It reads what the round added
(``EventStore.events_after(seq)``, on the store's thread) and folds it into the
same :class:`~shopintent.profile.incremental.IncrementalProfiles` that
``tests/profile`` proves equal to the batch profile (about 12 µs of CPU per event
here). ``GET /v1/users/{id}/profile`` then annotates one shopper's accumulators
with the saved :class:`~shopintent.profile.model.ProfileModel`, so an answer
costs one row, never a rebuild.

Live profiles are on once ``shopintent profile build`` has saved a model in the
state folder (segments and predictions need it); the first round after that
folds the whole store, later rounds only what they stored. Until then, and in
an API worker whose sink runs in another process, the endpoint answers from the
batch-built file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shopintent.log import get_logger
from shopintent.profile.build import ProfileNotFound, profile_dir, profile_record
from shopintent.profile.features import finish
from shopintent.profile.incremental import IncrementalProfiles
from shopintent.settings import Settings

if TYPE_CHECKING:
    from shopintent.profile.model import ProfileModel
    from shopintent.store import EventStore

log = get_logger(__name__)
#: What a profile model folder holds once saved (its presence turns live profiles on).
MODEL_FILE = "model.json"


class LiveProfiles:
    """Every stored shopper's accumulators, folded in round by round, and the saved model to annotate them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.profiles = IncrementalProfiles()
        self.seq = 0  # the store's last seq folded in
        self.latest: pd.Timestamp | None = None  # newest event time folded in: the profiles' "now"
        self._lock = threading.Lock()
        self._model: ProfileModel | None = None
        self._model_key: float | None = None

    @property
    def model_path(self) -> Path:
        return profile_dir(self.settings) / "model"

    @property
    def enabled(self) -> bool:
        """A profile model has been built (and so live profiles can say segment and predictions)."""
        return (self.model_path / MODEL_FILE).is_file()

    @property
    def current(self) -> bool:
        """At least one round was folded: the accumulators hold the whole store up to :attr:`seq`."""
        return self.seq > 0

    def catch_up(self, call: Callable[[Callable[[EventStore], Any]], Future[Any]], last_seq: int) -> int:
        """Fold the events stored since the last call (``call`` runs a function on the store's thread;
        ``last_seq``: the store's last seq after the round, so a round that stored nothing new costs no
        trip to the store).

        Never raises: the events are stored whatever happens here, and the next
        round starts again from the last seq folded in.
        """
        if last_seq <= self.seq or not self.enabled:
            return 0
        try:
            rows = call(lambda store: store.events_after(self.seq)).result()
            return self.fold(rows)
        except Exception as exc:
            log.warning("live profiles: catch-up failed; retried next round", error=type(exc).__name__,
                        detail=str(exc)[:200], seq=self.seq)
            return 0

    def fold(self, rows: pd.DataFrame) -> int:
        """Fold stored rows (canonical columns + ``seq``, in seq order) into the accumulators."""
        if rows.empty:
            return 0
        newest = pd.to_datetime(rows["timestamp"], utc=True).max()
        with self._lock:
            self.profiles.update(rows)
            self.seq = max(self.seq, int(rows["seq"].max()))
            self.latest = newest if self.latest is None or newest > self.latest else self.latest
        log.debug("live profiles folded", events=len(rows), seq=self.seq, shoppers=len(self.profiles.shoppers))
        return len(rows)

    def _loaded_model(self) -> ProfileModel:
        from shopintent.profile.model import ProfileModel

        key = (self.model_path / MODEL_FILE).stat().st_mtime
        if self._model is None or key != self._model_key:
            self._model, self._model_key = ProfileModel.load(self.model_path), key
        return self._model

    def record(self, user_id: str) -> dict[str, Any]:
        """One shopper's current profile (raises :class:`ProfileNotFound` for an id never stored)."""
        with self._lock:
            accumulator = self.profiles.shoppers.get(user_id)
            if accumulator is None:
                raise ProfileNotFound("no profile for this id: address a shopper by the pseudonymous `user_id` "
                                      "the service issued (the client's own id is not accepted)")
            raw = pd.DataFrame.from_dict({user_id: accumulator.row()}, orient="index")
            as_of = self.latest
        annotated = self._loaded_model().annotate(finish(raw), as_of=as_of)
        return profile_record(annotated, user_id)
