"""TalkingData AdTracking (Kaggle 2018): the official 100,000-click sample of real mobile-ad clicks.

Each row is one ad click (anonymised ``ip``, ``app``, ``device``, ``os``,
``channel`` ids and a UTC ``click_time``) labelled ``is_attributed`` = the
click led to an app download (227 did, 0.227 %). Clicks that never convert,
in bulk from one ip/device, are the click-fraud pattern TalkingData
blacklists; shopintent uses the set for the click-fraud / bot-traffic model
of :mod:`shopintent.risk` (``risk = 1 − P(download)``).

Representation: ``click_time`` and ``attributed_time`` as UTC timestamps
(``NaT`` where the click did not convert), ids as ``int64``,
``is_attributed`` as 0/1 integers, rows in file order (time-ordered within
the sample only roughly, so consumers sort by ``click_time``).

Caveat (PROVENANCE.txt): the stored copy's first header reads ``..ip``, a
stray two-byte prefix; this loader maps exactly that header to ``ip`` and
raises on any other unexpected header. ``attributed_time`` is filled exactly
for the converted clicks, so it leaks the label and must never be a feature.
The sample is random, so per-ip counts are about 1/1,850 of the full data's.
"""

from __future__ import annotations

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.settings import Settings

_REPO, _COMMIT = "yxjsxy/app_download_prediction", "d23964938240ba7f723406842830d9001d256a73"
FILE = "train_sample.csv"
COLUMNS: tuple[str, ...] = ("ip", "app", "device", "os", "channel", "click_time", "attributed_time",
                            "is_attributed")
#: The stored file's header: the first name carries a stray ``..`` (PROVENANCE.txt).
STORED_HEADER: tuple[str, ...] = ("..ip", *COLUMNS[1:])
ID_COLUMNS: tuple[str, ...] = ("ip", "app", "device", "os", "channel")
LABEL = "is_attributed"
#: Clicks per UTC day, as the provenance states them.
DAYS: dict[str, int] = {"2017-11-06": 5_011, "2017-11-07": 32_393, "2017-11-08": 34_035,
                        "2017-11-09": 28_561}

SPEC = DatasetSpec(
    name="talkingdata_adtracking_sample",
    task="ad-click fraud / bot traffic (does the click lead to a download?)",
    language="-",
    licence="Kaggle competition data (TalkingData): non-commercial / academic research only; "
    "do not redistribute",
    citation="TalkingData AdTracking Fraud Detection Challenge, Kaggle 2018 "
    "(kaggle.com/c/talkingdata-adtracking-fraud-detection)",
    source=f"https://github.com/{_REPO} @ {_COMMIT} ({FILE}, blob "
    "e3424766a656dc684ff0b97c73acd2d39dc1af83)",
    files=(
        DataFile(
            path=FILE,
            sha256="991a536e7884486a8a29840f1adb1852e69a5f7375f24eba0f5a4375e0272c2c",
            size=4_076_440,
            url=github_raw(_REPO, _COMMIT, FILE),
        ),
    ),
    expected_counts={
        "rows": 100_000, "is_attributed_1": 227, "is_attributed_0": 99_773, "attributed_time_filled": 227,
        "ip": 34_857, "app": 161, "device": 100, "os": 130, "channel": 161,
        **{f"day.{day}": n for day, n in DAYS.items()},
    },
    description="CSV with header (first name '..ip'), LF, no quoting; five integer ids, "
    "click_time and attributed_time as 'YYYY-MM-DD HH:MM:SS' UTC, is_attributed 0/1.",
)


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The file as published: its own header (``..ip`` included), every column as text."""
    return pd.read_csv(data_path(SPEC, FILE, settings), dtype="string", keep_default_na=False)


def to_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Map the ``..ip`` header to ``ip`` and type the columns (see the module docstring)."""
    header = tuple(raw.columns)
    if header not in (STORED_HEADER, COLUMNS):
        raise ValueError(f"{FILE}: header {list(header)} is neither {list(STORED_HEADER)} nor {list(COLUMNS)}")
    table = raw.set_axis(list(COLUMNS), axis=1)
    for column in (*ID_COLUMNS, LABEL):
        table[column] = pd.to_numeric(table[column], errors="raise").astype("int64")
    for column in ("click_time", "attributed_time"):
        table[column] = pd.to_datetime(table[column].replace("", None), format="%Y-%m-%d %H:%M:%S", utc=True)
    return table


def load(settings: Settings | None = None) -> pd.DataFrame:
    """The clicks as a typed table in file order (see the module docstring)."""
    return to_table(read_raw(settings))


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the file."""
    table = load(settings)
    days = table["click_time"].dt.strftime("%Y-%m-%d").value_counts()
    return {
        "rows": len(table),
        "is_attributed_1": int((table[LABEL] == 1).sum()),
        "is_attributed_0": int((table[LABEL] == 0).sum()),
        "attributed_time_filled": int(table["attributed_time"].notna().sum()),
        **{column: int(table[column].nunique()) for column in ID_COLUMNS},
        **{f"day.{day}": int(n) for day, n in days.sort_index().items()},
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
