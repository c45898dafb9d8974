"""Shopper profiles on the real Taobao log: incremental == batch, the model, the saved profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.profile import IncrementalProfiles, ProfileModel, ProfileNotFound, batch_profile_features
from shopintent.profile.build import build_profiles, load_profiles, profile_of
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events


@pytest.fixture(scope="module")
def store(session_settings: Settings) -> EventStore:
    """The whole real Taobao head (84,439 in-window events, 815 shoppers) ingested through the one path."""
    pseudonymizer = Pseudonymizer.from_settings(session_settings)
    events = taobao.load(session_settings).events
    with EventStore(key_id=pseudonymizer.key_id) as s:
        ingest_events(s, events, pseudonymizer)
        yield s


def test_incremental_profiles_equal_batch_profiles_on_the_taobao_log(store: EventStore) -> None:
    batch = batch_profile_features(store.engine())
    events = store.events()
    incremental = IncrementalProfiles()
    # Arrival in store order, in uneven batches, as appends would deliver them.
    for lo, hi in ((0, 1), (1, 7_000), (7_000, 40_000), (40_000, len(events))):
        incremental.update(events.iloc[lo:hi])
    pd.testing.assert_frame_equal(batch, incremental.features())
    assert len(batch) == 815 and int(batch["events"].sum()) == len(events) == 84_439
    assert int(batch["n_purchase"].sum()) == int((events["event_type"] == "purchase").sum())


def test_incremental_sessions_stay_exact_when_late_events_arrive_out_of_order(store: EventStore) -> None:
    events = store.events()
    shuffled = events.sample(frac=1.0, random_state=3)
    incremental = IncrementalProfiles()
    for lo in range(0, len(shuffled), 10_000):
        incremental.update(shuffled.iloc[lo:lo + 10_000])
    batch = batch_profile_features(store.engine())
    pd.testing.assert_series_equal(batch["sessions"], incremental.features()["sessions"])


def test_profiles_are_saved_and_read_by_pseudonymous_id_only(store: EventStore, session_settings: Settings) -> None:
    profiles = build_profiles(store, session_settings)
    assert set(profiles["segment"]) <= set(range(5)) and profiles["segment"].nunique() == 5
    assert profiles["purchase_probability"].between(0, 1).all()
    assert set(profiles["price_band"]) == {"unknown"}  # the Taobao log carries no prices
    saved = load_profiles(session_settings)
    user = saved.index[0]
    record = profile_of(session_settings, user)
    assert record["events"] == int(saved.loc[user, "events"]) and record["user_id"].startswith("u_")
    model = ProfileModel.load(session_settings.state_dir / "profile" / "model")
    assert model.metrics_["purchase_auc_heldout"] > 0.55
    with pytest.raises(ProfileNotFound, match="pseudonymous"):
        profile_of(session_settings, "937")  # a raw Taobao id is never looked up


def test_held_out_auc_is_the_same_whatever_the_pseudonym_key(store: EventStore) -> None:
    """The held-out AUCs are out of time, so another key (the same shoppers under other pseudonyms,
    hence in another order) scores the same rows: equal AUCs, where a random shopper draw moved them."""
    events = store.events()
    users = sorted(events["user_id"].unique())
    renamed = dict(zip(users, [f"u_{i:016x}" for i in np.random.default_rng(5).permutation(len(users))],
                       strict=True))
    other = events.assign(user_id=events["user_id"].map(renamed))
    first, second = ProfileModel(seed=0).fit(events), ProfileModel(seed=0).fit(other)
    for target in ("purchase", "churn"):
        assert first.metrics_[f"{target}_auc_heldout"] == pytest.approx(second.metrics_[f"{target}_auc_heldout"])
        assert first.metrics_[f"{target}_positives"] == second.metrics_[f"{target}_positives"]
    assert first.metrics_["churn_positives"] == 14  # every shopper scored, not 30 % of them (about 4)
    y, score = first.heldout_["churn"]
    assert len(y) == first.metrics_["users"] == 815 and len(score) == len(y)
