"""diginetica_sample: 12,391 session views as canonical view events."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopintent.datasets import diginetica_sample as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.DigineticaViews:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["sessions"], found["items"]) == (12_391, 2_986, 7_139)
    assert found["timestamp_date_mismatch"] == 0
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_views_are_canonical_events_ordered_by_session_then_time(
    loaded: dataset.DigineticaViews,
) -> None:
    events = loaded.events
    assert len(events) == 12_391 and set(events["event_type"]) == {"view"}
    first = events.iloc[0]
    assert (first["session_id"], first["user_id"], first["item_id"]) == ("1", "1", "9654")
    assert first["timestamp"] == pd.Timestamp("2016-05-09 00:01:15.848", tz="UTC")
    assert (events["user_id"] == events["session_id"]).all()
    key = events.assign(s=events["session_id"].astype(int))[["s", "timestamp"]]
    assert key.equals(key.sort_values(["s", "timestamp"]))


def test_raw_keeps_the_published_user_ids(loaded: dataset.DigineticaViews) -> None:
    raw = loaded.raw
    assert len(raw) == 12_391
    assert raw["user_id"].isna().sum() == 7_681
    assert raw["user_id"].nunique() == 1_270


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
