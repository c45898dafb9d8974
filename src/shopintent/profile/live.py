"""Shopper profiles the service keeps current as its store sink stores events.

Why here and not on the request path: a profile changes when an event is
*stored*, so the store sink (``Service._store_messages``) calls
:meth:`LiveProfiles.catch_up` after each round. Each round's events are read
(by seq range, on the store's thread) and folded into the same
:class:`~shopintent.profile.incremental.IncrementalProfiles` that
``tests/profile`` proves equal to the batch profile. ``GET /v1/users/{id}/profile``
then annotates one shopper's accumulators with the saved
:class:`~shopintent.profile.model.ProfileModel`, so an answer costs one row,
never a rebuild.

Start-up: the first round after start (or after the first ``shopintent profile
build``) must bring the accumulators up to the whole store. That is not done in
the sink's round: a background thread restores the last saved snapshot
(:mod:`shopintent.profile.snapshot`, when the store still holds the prefix it
covers) and folds what is newer in chunks of ``profile_live_chunk_events`` seqs,
so no store trip, lock hold or sink round grows with the store. Until it has
caught up (:attr:`LiveProfiles.current`), the endpoint answers from the
batch-built file (``"source": "batch"``), as it does in an API worker whose sink
runs in another process. Every ``profile_live_snapshot_events`` events folded,
and when a catch-up ends, the state is saved again in the background.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shopintent.log import get_logger
from shopintent.profile.build import ProfileNotFound, profile_dir, profile_record
from shopintent.profile.features import finish
from shopintent.profile.incremental import IncrementalProfiles
from shopintent.profile.snapshot import (
    FORMAT,
    SNAPSHOT_FILE,
    SnapshotMeta,
    SnapshotUnusable,
    matches,
    read_meta,
    store_position,
    to_table,
)
from shopintent.profile.snapshot import load as load_snapshot
from shopintent.profile.snapshot import save as save_snapshot
from shopintent.settings import Settings

if TYPE_CHECKING:
    from shopintent.profile.model import ProfileModel
    from shopintent.store import EventStore

log = get_logger(__name__)
#: What a profile model folder holds once saved (its presence turns live profiles on).
MODEL_FILE = "model.json"


#: Runs a function on the store's thread (the service's ``IngestGateway.call``).
StoreCall = Callable[[Callable[["EventStore"], Any]], Future[Any]]
#: Pause between two background chunks, so the request path's threads get the interpreter between them.
_CHUNK_PAUSE_S = 0.005


class LiveProfiles:
    """Every stored shopper's accumulators, folded in round by round, and the saved model to annotate them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.profiles = IncrementalProfiles()
        self.seq = 0  # the store's last seq folded in
        self.latest: pd.Timestamp | None = None  # newest event time folded in: the profiles' "now"
        self.chunk = settings.profile_live_chunk_events
        self.snapshot_every = settings.profile_live_snapshot_events
        #: The seq a snapshot restored at start (None: no usable snapshot, the store was folded whole).
        self.restored_seq: int | None = None
        self._lock = threading.Lock()  # the accumulators, seq and latest
        self._state = threading.Lock()  # the catch-up's flags below
        self._pending = 0  # the newest store seq the sink has reported
        self._warming = False
        self._current = threading.Event()
        self._saving = False
        self._saved_events = 0  # profiles.n_events when the state was last saved or restored
        #: Events folded since this object was made (a restored snapshot's are not counted).
        self.folded = 0
        #: CPU seconds of the background steps (thread time): the longest chunk fold, the last snapshot save.
        self.step_cpu_s: dict[str, float] = {"longest_chunk": 0.0, "snapshot_save": 0.0, "restore": 0.0}
        #: The newest background thread (catch-up or snapshot), for a caller that must wait for it.
        self.background: threading.Thread | None = None
        self._model: ProfileModel | None = None
        self._model_key: float | None = None

    @property
    def model_path(self) -> Path:
        return profile_dir(self.settings) / "model"

    @property
    def snapshot_path(self) -> Path:
        """``state_dir/profile/live/accumulators.parquet``: the saved state a restart resumes from."""
        return profile_dir(self.settings) / "live" / SNAPSHOT_FILE

    @property
    def enabled(self) -> bool:
        """A profile model has been built (and so live profiles can say segment and predictions)."""
        return (self.model_path / MODEL_FILE).is_file()

    @property
    def current(self) -> bool:
        """The accumulators have caught up with the store (every event up to :attr:`seq` is in)."""
        return self._current.is_set()

    def wait_current(self, timeout_s: float) -> bool:
        """Block until :attr:`current` (or ``timeout_s`` passes); returns whether it is."""
        return self._current.wait(timeout_s)

    def catch_up(self, call: StoreCall, last_seq: int) -> int:
        """Fold the events stored since the last call (``call`` runs a function on the store's thread;
        ``last_seq``: the store's last seq after the round, so a round that stored nothing new costs no
        trip to the store).

        Until the accumulators have caught up with the store this only records
        ``last_seq`` and, the first time, starts the background catch-up; the
        round returns at once. Never raises: the events are stored whatever
        happens here, and the next round starts again from the last seq folded in.
        """
        if not self.enabled:
            return 0
        with self._state:
            self._pending = max(self._pending, last_seq)
            if self._warming:
                return 0
            if not self.current:
                self._warming = True
                self.background = threading.Thread(target=self._warm_up, args=(call,),
                                                   name="live-profiles-catch-up", daemon=True)
                self.background.start()
                return 0
        if last_seq <= self.seq:
            return 0
        try:
            folded = self._fold_range(call, self.seq, last_seq)
        except Exception as exc:
            log.warning("live profiles: catch-up failed; retried next round", error=type(exc).__name__,
                        detail=str(exc)[:200], seq=self.seq)
            return 0
        self._snapshot_if_due(call)
        return folded

    def _fold_range(self, call: StoreCall, after: int, upto: int) -> int:
        rows = call(lambda store: store.events_after(after, upto)).result()
        return self.fold(rows, upto=upto)

    def _warm_up(self, call: StoreCall) -> None:
        """Restore the snapshot, then fold the rest of the store chunk by chunk (background thread)."""
        started = time.process_time()
        try:
            if self.seq == 0:
                self._restore(call)
            while True:
                with self._state:
                    target = self._pending
                    if self.seq >= target:
                        self._warming = False
                        self._current.set()
                        break
                step = time.thread_time()
                self._fold_range(call, self.seq, min(self.seq + self.chunk, target))
                self.step_cpu_s["longest_chunk"] = max(self.step_cpu_s["longest_chunk"], time.thread_time() - step)
                time.sleep(_CHUNK_PAUSE_S)
        except Exception as exc:
            log.warning("live profiles: background catch-up failed; restarted next round",
                        error=type(exc).__name__, detail=str(exc)[:200], seq=self.seq)
            with self._state:
                self._warming = False
            return
        log.info("live profiles current", seq=self.seq, shoppers=len(self.profiles.shoppers),
                 restored_seq=self.restored_seq, cpu_s=round(time.process_time() - started, 3))
        if self.profiles.n_events != self._saved_events and self._claim_save():
            self._save(call)

    def _restore(self, call: StoreCall) -> None:
        """Adopt the saved snapshot when the store still holds exactly the prefix it covers."""
        path = self.snapshot_path
        if not path.is_file():
            return
        try:
            meta = read_meta(path)
        except SnapshotUnusable as exc:
            log.warning("live profiles: snapshot ignored", detail=str(exc)[:300])
            return
        gap = self.profiles.gap_minutes
        if not call(lambda store: matches(meta, store, gap)).result():
            log.info("live profiles: snapshot does not cover this store's events; folding the store whole",
                     snapshot_seq=meta.position.seq)
            return
        step = time.thread_time()
        try:
            profiles = load_snapshot(path, meta)
        except Exception as exc:  # a damaged file must not stop the catch-up: fold the store whole instead
            log.warning("live profiles: snapshot unreadable; folding the store whole", error=type(exc).__name__,
                        detail=str(exc)[:200])
            return
        self.step_cpu_s["restore"] = time.thread_time() - step
        with self._lock:
            self.profiles = profiles
            self.seq = meta.position.seq
            self.latest = None if meta.latest_us is None else pd.Timestamp(meta.latest_us, unit="us", tz="UTC")
            self._saved_events = profiles.n_events
        self.restored_seq = meta.position.seq
        log.info("live profiles: snapshot restored", seq=self.seq, shoppers=len(profiles.shoppers))

    def _claim_save(self) -> bool:
        """Whether this caller may save now (one save at a time)."""
        with self._state:
            if self._saving:
                return False
            self._saving = True
            return True

    def _snapshot_if_due(self, call: StoreCall) -> None:
        if self.profiles.n_events - self._saved_events < self.snapshot_every or not self._claim_save():
            return
        self.background = threading.Thread(target=self._save, args=(call,), name="live-profiles-snapshot",
                                           daemon=True)
        self.background.start()

    def _save(self, call: StoreCall) -> None:
        """Save the accumulators with the store position they cover (never raises: the next save retries)."""
        try:
            step = time.thread_time()
            with self._lock:
                table = to_table(self.profiles)
                seq, n_events, latest = self.seq, self.profiles.n_events, self.latest
            position = call(lambda store: store_position(store, seq)).result()
            latest_us = None if latest is None else int(latest.value // 1_000)
            meta = SnapshotMeta(format=FORMAT, position=position, gap_minutes=self.profiles.gap_minutes,
                                n_events=n_events, latest_us=latest_us)
            save_snapshot(table, meta, self.snapshot_path)
            self.step_cpu_s["snapshot_save"] = time.thread_time() - step
            self._saved_events = n_events
            log.info("live profiles: snapshot saved", seq=seq, shoppers=table.num_rows)
        except Exception as exc:
            log.warning("live profiles: snapshot not saved", error=type(exc).__name__, detail=str(exc)[:200])
        finally:
            with self._state:
                self._saving = False

    def fold(self, rows: pd.DataFrame, upto: int | None = None) -> int:
        """Fold stored rows (canonical columns + ``seq``, in seq order) into the accumulators; ``upto``:
        the seq the rows cover up to (a range may end in seqs no row holds)."""
        if rows.empty:
            if upto is not None:
                with self._lock:
                    self.seq = max(self.seq, upto)
            return 0
        newest = pd.to_datetime(rows["timestamp"], utc=True).max()
        with self._lock:
            self.profiles.update(rows)
            self.folded += len(rows)
            self.seq = max(self.seq, int(rows["seq"].max()), upto or 0)
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
