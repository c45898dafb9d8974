"""Live profiles after a start: the store is caught up in bounded background chunks (the sink's round returns
at once), and a restart resumes from the saved snapshot, folding only what is newer: both equal the batch
profile of the same real Taobao store."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.profile import batch_profile_features
from shopintent.profile.build import build_profiles
from shopintent.profile.live import LiveProfiles
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events


def _caught_up(live: LiveProfiles, call: Callable[..., Future[Any]], last_seq: int) -> LiveProfiles:
    """One sink round's call, then wait for the background catch-up and the snapshot it saves."""
    assert live.catch_up(call, last_seq) == 0 and not live.current  # the round returns at once
    assert live.wait_current(60)
    assert live.background is not None
    live.background.join(60)
    return live


def test_restart_resumes_from_the_snapshot_and_equals_the_batch_profile(settings: Settings, tmp_path: Path) -> None:
    events = taobao.load(settings).events.iloc[:6_000]  # ordered by shopper: the tail brings new shoppers
    first, rest = events.iloc[:4_600], events.iloc[4_600:]
    scratch = settings.model_copy(update={"profile_live_chunk_events": 700})
    pseudonymizer = Pseudonymizer.from_settings(scratch)
    with EventStore(tmp_path / "events.duckdb", key_id=pseudonymizer.key_id) as store, \
            ThreadPoolExecutor(max_workers=1) as pool:
        def call(fn: Callable[[EventStore], Any]) -> Future[Any]:
            return pool.submit(fn, store)

        ingest_events(store, first, pseudonymizer)
        build_profiles(store, scratch)  # the saved model turns live profiles on
        live = _caught_up(LiveProfiles(scratch), call, store.last_seq())
        assert live.restored_seq is None and live.folded == store.count()  # no snapshot yet: folded whole
        assert live.snapshot_path.is_file()
        pd.testing.assert_frame_equal(live.profiles.features(), batch_profile_features(store.engine()))

        ingest_events(store, rest, pseudonymizer)  # stored while the service was down
        restarted = _caught_up(LiveProfiles(scratch), call, store.last_seq())
        batch = batch_profile_features(store.engine())
    # Resumed where the snapshot stood: only the events stored since were folded.
    assert restarted.restored_seq == live.seq
    assert restarted.folded == int(batch["events"].sum()) - live.profiles.n_events > 0
    pd.testing.assert_frame_equal(restarted.profiles.features(), batch)

    # Another store (its prefix is not the one the snapshot covers): the snapshot is not used.
    with EventStore(key_id=pseudonymizer.key_id) as other, ThreadPoolExecutor(max_workers=1) as pool:
        ingest_events(other, rest, pseudonymizer)
        fresh = _caught_up(LiveProfiles(scratch), lambda fn: pool.submit(fn, other), other.last_seq())
        assert fresh.restored_seq is None and fresh.folded == other.count()
        expected = batch_profile_features(other.engine())
        pd.testing.assert_frame_equal(fresh.profiles.features(), expected)
        fresh.snapshot_path.write_bytes(b"not a parquet file")  # a damaged snapshot: ignored, never fatal
        again = _caught_up(LiveProfiles(scratch), lambda fn: pool.submit(fn, other), other.last_seq())
        assert again.restored_seq is None and again.folded == other.count()
        pd.testing.assert_frame_equal(again.profiles.features(), expected)
