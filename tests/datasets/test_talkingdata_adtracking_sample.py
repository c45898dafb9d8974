"""talkingdata_adtracking_sample: 100,000 real ad clicks, 227 downloads; header `..ip` mapped to `ip`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopintent.datasets import talkingdata_adtracking_sample as dataset
from shopintent.settings import Settings
from tests.datasets import checks


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["is_attributed_1"], found["ip"], found["day.2017-11-09"]) == (
        100_000, 227, 34_857, 28_561)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_stray_header_prefix_is_mapped_to_ip_only_in_this_loader(session_settings: Settings) -> None:
    raw = dataset.read_raw(session_settings)
    assert next(iter(raw.columns)) == "..ip"
    table = dataset.to_table(raw)
    assert list(table.columns) == list(dataset.COLUMNS)
    first = table.iloc[0]
    assert (first["ip"], first["app"], first["channel"]) == (87540, 12, 497)
    assert first["click_time"] == pd.Timestamp("2017-11-07 09:30:38", tz="UTC")
    assert pd.isna(first["attributed_time"])
    assert (table["attributed_time"].notna() == (table["is_attributed"] == 1)).all()


def test_unexpected_header_is_refused(session_settings: Settings) -> None:
    raw = dataset.read_raw(session_settings).head(3).rename(columns={"app": "application"})
    with pytest.raises(ValueError, match="application"):
        dataset.to_table(raw)


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
