"""Real-data fixtures shared by the risk tests (loaded once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
from shopintent.datasets import talkingdata_adtracking_sample as talkingdata
from shopintent.settings import Settings


@pytest.fixture(scope="session")
def dmc_table(session_settings: Settings) -> pd.DataFrame:
    return dmc.load(session_settings)


@pytest.fixture(scope="session")
def busy_clicks(session_settings: Settings) -> pd.DataFrame:
    """The real clicks of the 150 busiest ips: keys that repeat within minutes."""
    clicks = talkingdata.load(session_settings)
    busiest = clicks["ip"].value_counts().index[:150]
    return clicks[clicks["ip"].isin(busiest)].reset_index(drop=True)
