"""obd_sample: Open Bandit men campaign, random and Thompson-sampling logs with propensities."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from shopintent.datasets import obd_sample as dataset
from shopintent.schema import BanditFeedback
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.ObdSample:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["random.rows"], found["bts.rows"]) == (10_000, 10_000)
    assert (found["random.clicks"], found["bts.clicks"]) == (46, 69)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_logs_are_typed_with_true_propensities(loaded: dataset.ObdSample) -> None:
    random_log = loaded["random"].feedback
    assert random_log["propensity_score"].eq(1 / 34).all()
    assert random_log["position"].between(1, 3).all()
    assert str(random_log["timestamp"].dt.tz) == "UTC"
    bts = loaded["bts"].feedback
    assert ((bts["propensity_score"] > 0) & (bts["propensity_score"] <= 1)).all()
    assert len(loaded["random"].item_context) == len(loaded["bts"].item_context) == 34


def test_records_are_bandit_feedback(loaded: dataset.ObdSample) -> None:
    first, *rest = islice(dataset.records(loaded["random"]), 100)
    assert isinstance(first, BanditFeedback)
    assert (first.action, first.position, first.reward, first.policy) == ("14", 3, 0.0, "random")
    assert first.propensity == pytest.approx(1 / 34)
    assert first.timestamp.isoformat() == "2019-11-24T00:03:13.442536+00:00"
    assert sum(key.startswith("user_feature_") for key in first.context) == 4
    assert sum(key.startswith("user-item_affinity_") for key in first.context) == 34
    assert len(rest) == 99


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
