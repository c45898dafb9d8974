"""cdnow: 69,659 real CD purchases as canonical purchase events, plus the BTYD summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopintent.datasets import cdnow as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.CdnowData:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["transactions"], found["customers"], found["rejected"]) == (69_659, 23_570, 0)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_transactions_are_canonical_purchases(loaded: dataset.CdnowData) -> None:
    events = loaded.events
    first = events.iloc[0]
    assert (first["event_id"], first["user_id"], first["item_id"]) == ("cdnow:1", "00001", "cd")
    assert first["timestamp"] == pd.Timestamp("1997-01-01", tz="UTC")
    assert (first["price"], first["quantity"]) == (11.77, 1)
    assert set(events["event_type"]) == {"purchase"}
    assert events["event_id"].is_unique
    third = events.iloc[2]
    assert third["price"] * third["quantity"] == pytest.approx(77.0)


def test_summary_is_the_2357_customer_btyd_table(loaded: dataset.CdnowData) -> None:
    summary = loaded.summary
    assert list(summary.columns) == ["customer_id", "frequency", "recency", "T"]
    assert len(summary) == 2_357
    assert summary.iloc[0].to_dict() == {
        "customer_id": "1", "frequency": 2, "recency": 30.43, "T": 38.86,
    }


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
