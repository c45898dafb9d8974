"""Real-data fixtures shared by the forecast tests."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.forecast import pharma
from shopintent.settings import Settings


@pytest.fixture(scope="session")
def weekly(session_settings: Settings) -> pd.DataFrame:
    """Whole weeks of the 8 pharma categories."""
    return pharma.weekly(session_settings)


@pytest.fixture(scope="session")
def daily(session_settings: Settings) -> pd.DataFrame:
    """Every day of the 8 pharma categories."""
    return pharma.daily(session_settings)
