"""Taobao UserBehavior (Alibaba Tianchi 649): real per-event clicks, carts, favourites, buys.

The head (84,474 rows, 815 users) of the original ``UserBehavior.csv``. It is
the only public per-event log here with purchases, so the store, the demo and
the behavioural models all start from it. Rows outside the documented window
(2017-11-25 .. 2017-12-03, China time) are known noise in the original: they
are split off, counted and returned, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema.validation import ValidationReport, validate_events
from shopintent.settings import Settings

_REPO, _COMMIT = "Haohanblue/mydeep", "ef812addc2c164f1d3ef48564a5c393ec293bc61"
FILE = "UserBehavior_head84k.csv"

#: The documented collection window, in China time (UTC+8), end exclusive.
WINDOW_START = pd.Timestamp("2017-11-25 00:00:00", tz="Asia/Shanghai")
WINDOW_END = pd.Timestamp("2017-12-04 00:00:00", tz="Asia/Shanghai")


def _drop_partial_last_line(payload: bytes) -> bytes:
    """The source file is a byte-truncated head: keep only whole lines."""
    return payload[: payload.rfind(b"\n") + 1]


SPEC = DatasetSpec(
    name="taobao_userbehavior_head",
    task="per-event behaviour: view / cart / favourite / purchase",
    language="-",
    licence="Alibaba Tianchi UserBehavior, research (non-commercial) use",
    citation="Zhu et al., Learning Tree-based Deep Model for Recommender Systems, KDD 2018",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (mydeep/UserBehavior.csv)",
    files=(
        DataFile(
            path=FILE,
            sha256="cf755ed915c0eeff6671f17b3bda0059cae104bcfee8ac299a1be04951caae70",
            size=3_178_435,
            url=github_raw(_REPO, _COMMIT, "mydeep/UserBehavior.csv"),
            prepare=_drop_partial_last_line,
        ),
    ),
    expected_counts={
        "rows": 84_474,
        "users": 815,
        "items": 55_367,
        "categories": 2_914,
        "view": 75_871,
        "add_to_cart": 4_497,
        "favourite": 2_356,
        "purchase": 1_750,
        "buyers": 559,
        "out_of_window": 35,
    },
    description="First 84,474 rows of Taobao UserBehavior.csv; no header; "
    "user_id,item_id,category_id,behavior_type,timestamp (unix seconds).",
)

_COLUMNS = ["user_id", "item_id", "category_id", "event_type", "timestamp"]


@dataclass
class TaobaoEvents:
    """The Taobao log as canonical events.

    ``events`` holds the rows inside the collection window, ordered by user
    then time as in the original; ``out_of_window`` the noisy rows outside it;
    ``report`` the validation of every raw row.
    """

    events: pd.DataFrame
    out_of_window: pd.DataFrame
    report: ValidationReport


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The file as published, with column names and ids as strings."""
    path = data_path(SPEC, FILE, settings)
    return pd.read_csv(path, header=None, names=_COLUMNS, dtype="string")


def load(settings: Settings | None = None) -> TaobaoEvents:
    """Load the log as canonical events (``pv``→view, ``cart``→add_to_cart, …)."""
    raw = read_raw(settings)
    report = validate_events(raw)
    events = report.valid
    inside = (events["timestamp"] >= WINDOW_START) & (events["timestamp"] < WINDOW_END)
    return TaobaoEvents(
        events=events[inside].reset_index(drop=True),
        out_of_window=events[~inside].reset_index(drop=True),
        report=report,
    )


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    every = pd.concat([loaded.events, loaded.out_of_window])
    by_type = every["event_type"].value_counts()
    buyers = every.loc[every["event_type"] == "purchase", "user_id"].nunique()
    return {
        "rows": loaded.report.n_input,
        "rejected": loaded.report.n_rejected,
        "users": every["user_id"].nunique(),
        "items": every["item_id"].nunique(),
        "categories": every["category_id"].nunique(),
        **{name: int(by_type.get(name, 0)) for name in ("view", "add_to_cart", "favourite", "purchase")},
        "buyers": int(buyers),
        "out_of_window": len(loaded.out_of_window),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
