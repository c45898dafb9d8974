"""dmc2019_selfcheckout_fraud: 1,879 real self-checkout transactions, 104 labelled fraud."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import dmc2019_selfcheckout_fraud as dataset
from shopintent.settings import Settings
from tests.datasets import checks


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["fraud_1"], found["trustLevel.2"]) == (1_879, 104, 347)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_pipe_file_becomes_a_typed_table(session_settings: Settings) -> None:
    table = dataset.load(session_settings)
    assert list(table.columns) == [*dataset.FEATURES, "fraud"]
    assert table.iloc[0][["trustLevel", "totalScanTimeInSeconds", "grandTotal", "fraud"]].tolist() == [
        5, 1054, 54.7, 0]
    assert str(table["trustLevel"].dtype) == "int64" and str(table["valuePerSecond"].dtype) == "float64"


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
