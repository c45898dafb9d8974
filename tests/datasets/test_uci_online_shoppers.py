"""uci_online_shoppers: 12,330 sessions as a typed table labelled with revenue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopintent.datasets import uci_online_shoppers as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def table(session_settings: Settings) -> pd.DataFrame:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["revenue_true"], found["revenue_false"]) == (12_330, 1_908, 10_422)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_sessions_are_a_typed_snake_case_table(table: pd.DataFrame) -> None:
    assert len(table) == 12_330
    assert table.iloc[0][["product_related", "bounce_rates", "month", "visitor_type"]].tolist() == [
        1, 0.2, "Feb", "Returning_Visitor",
    ]
    assert table[dataset.LABEL].dtype == bool and table["weekend"].dtype == bool
    assert str(table["administrative"].dtype) == "Int64"
    assert table["month"].cat.ordered
    assert list(table["month"].cat.categories) == list(dataset.MONTHS)
    assert set(table["visitor_type"].unique()) == set(dataset.VISITOR_TYPES)


def test_sentinels_and_gaps_stay_visible(table: pd.DataFrame) -> None:
    durations = table[list(dataset.DURATION_COLUMNS)]
    page_counts = table[list(dataset.PAGE_COUNT_COLUMNS)]
    assert (durations.min() >= 0).all()  # the -1 sentinel is read as missing
    assert int((durations.isna().any(axis=1) & page_counts.notna().all(axis=1)).sum()) == 33
    assert int(page_counts.isna().any(axis=1).sum()) == 14


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
