"""Pharma sales (Zdravkovic, Kaggle): one pharmacy's daily and weekly units sold in 8 ATC drug categories.

The forecasting benchmark's real sales: 2014-01-02 .. 2019-10-08, already cleaned and
imputed by the author. The monthly file is not loaded: 33 of its 70 months disagree with
the daily sums (PROVENANCE.txt). Weekly rows are dated by the Sunday that ends the week;
the first (Jan 2-5, 2014) and last (Oct 7-8, 2019) weeks are partial and are dropped by
:func:`weekly` (counted in the returned frame's ``attrs``), so every scored week is whole.
"""

from __future__ import annotations

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, data_path, github_raw
from shopintent.settings import Settings

CATEGORIES: tuple[str, ...] = ("M01AB", "M01AE", "N02BA", "N02BE", "N05B", "N05C", "R03", "R06")
#: Fourkiotis & Tsadiras (Forecasting 2024, 6(1):170-186) XGBoost weekly MAPE, % (abstract).
PAPER_XGBOOST_MAPE: dict[str, float] = {"M01AB": 17.89, "M01AE": 16.92, "N02BA": 17.98, "N02BE": 16.05}

_DAILY_REPO, _DAILY_COMMIT = "kahledawad2019-netizen/pharma-demand-forecasting", "f66acb167bae094a50bd9cf2bd1373f0e25ca2a3"
_REPO, _COMMIT = "dhwani08-gandhi/Pharma-Analysis-Project", "93c93bd83902098f73793f8fe7cce7661482a11d"

SPEC = DatasetSpec(
    name="pharma_sales_atc",
    task="daily / weekly demand forecasting per drug category",
    language="-",
    licence="CC BY-NC 4.0 (Kaggle dataset page)",
    citation='M. Zdravkovic, "Pharma sales data", Kaggle (milanzdravkovic/pharma-sales-data)',
    source=f"https://github.com/{_DAILY_REPO} @ {_DAILY_COMMIT} (salesdaily.csv); "
    f"https://github.com/{_REPO} @ {_COMMIT} (salesweekly.csv)",
    files=(
        DataFile(path="salesdaily.csv", size=117_854,
                 sha256="49e4f1c5c3daf5220fdda10785256dba5ff89c1ec18703e5ad676b7449d55b2e",
                 url=github_raw(_DAILY_REPO, _DAILY_COMMIT, "salesdaily.csv")),
        DataFile(path="salesweekly.csv", size=14_731,
                 sha256="6b85e30ed3acb1378b3475c4fa4b3f956771e82210ddedb0e0855ab2b7a0cd9e",
                 url=github_raw(_REPO, _COMMIT, "salesweekly.csv")),
    ),
    expected_counts={"daily_rows": 2_106, "weekly_rows": 302},
    description="datum (M/D/YYYY) plus one column of units sold per ATC category.",
)


def _long(path_name: str, settings: Settings | None) -> pd.DataFrame:
    wide = pd.read_csv(data_path(SPEC, path_name, settings))
    wide["ds"] = pd.to_datetime(wide["datum"], format="%m/%d/%Y")
    long = wide.melt(id_vars=["ds"], value_vars=list(CATEGORIES), var_name="unique_id", value_name="y")
    return long.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def daily(settings: Settings | None = None) -> pd.DataFrame:
    """Units sold per category and day (``unique_id, ds, y``), every calendar day, no gaps."""
    return _long("salesdaily.csv", settings)


def weekly(settings: Settings | None = None) -> pd.DataFrame:
    """Units sold per category and whole week ending Sunday; the two partial weeks are dropped."""
    long = _long("salesweekly.csv", settings)
    whole = long[(long["ds"] > long["ds"].min()) & (long["ds"] < long["ds"].max())].reset_index(drop=True)
    whole.attrs["partial_weeks_dropped"] = 2
    return whole
