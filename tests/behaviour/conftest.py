"""Shared real-data fixtures for the behaviour tests (loaded once per module or session)."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.settings import Settings
from shopintent.store import sessionise_frame

#: Start of the last day of the Taobao log (China time): the test period.
TEST_START = pd.Timestamp("2017-12-03", tz="Asia/Shanghai")


@pytest.fixture(scope="session")
def taobao_sessions(session_settings: Settings) -> pd.DataFrame:
    """Every in-window Taobao event, sessionised by the store's pipeline (30-minute gap)."""
    return sessionise_frame(taobao.load(session_settings).events, 30.0)
