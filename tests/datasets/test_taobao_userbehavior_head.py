"""taobao_userbehavior_head: 84,474 real Taobao events (views, carts, favourites, purchases)."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head as dataset
from shopintent.datasets.base import data_path
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.TaobaoEvents:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["users"], found["purchase"]) == (84_474, 815, 1_750)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_events_are_canonical_and_inside_the_window(loaded: dataset.TaobaoEvents) -> None:
    events = loaded.events
    first = events.iloc[0]
    assert (first["user_id"], first["item_id"], first["category_id"]) == ("1", "2268318", "2520377")
    assert first["event_type"] == "view"
    assert first["timestamp"] == pd.Timestamp(1511544070, unit="s", tz="UTC")
    assert set(events["event_type"]) == {"view", "add_to_cart", "favourite", "purchase"}
    inside = events["timestamp"].between(dataset.WINDOW_START, dataset.WINDOW_END, "left")
    assert inside.all()
    assert len(events) + len(loaded.out_of_window) == 84_474
    assert len(loaded.out_of_window) == 35 and loaded.report.n_rejected == 0


def test_download_drops_the_sources_truncated_last_line(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = (dataset.SPEC.directory(session_settings) / dataset.FILE).read_bytes()
    published = stored + b"100370,41137"  # the source file ends mid-row
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(published))
    online = checks.offline_settings(tmp_path, allow_download=True)
    assert data_path(dataset.SPEC, dataset.FILE, online).read_bytes() == stored


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
