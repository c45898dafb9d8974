"""The CLI tests' shared set-up: real data and a throwaway state folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shopintent.settings import get_settings
from tests.conftest import REAL_DATA_DIR


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the CLI's settings at the real data and a throwaway state folder."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_PSEUDONYM_KEY", "cli-test-key-not-secret-32-bytes!")
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
