"""Shared fixtures: settings pointed at the real data and a throwaway state folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopintent.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    configured = os.environ.get("SHOPINTENT_DATA_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "taobao_userbehavior_head").is_dir():
            return candidate.resolve()
    return None


REAL_DATA_DIR = _real_data_dir()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over the real data (read-only, no downloads) and a fresh state folder."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    return Settings(
        data_dir=REAL_DATA_DIR,
        state_dir=tmp_path / "state",
        allow_download=False,
        pseudonym_key="test-key-not-secret-32-bytes-long!!",
    )


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like ``settings`` but shared by a whole test session (for expensive loads)."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    return Settings(
        data_dir=REAL_DATA_DIR,
        state_dir=tmp_path_factory.mktemp("state"),
        allow_download=False,
        pseudonym_key="test-key-not-secret-32-bytes-long!!",
    )


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings (read from the environment) on the real data and a throwaway state folder."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_PSEUDONYM_KEY", "cli-test-key-not-secret-32-bytes!")
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
