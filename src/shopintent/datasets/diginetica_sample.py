"""Diginetica (CIKM Cup 2016) item views: the small sample shipped with SR-GNN.

12,391 product views in 2,986 real shopping sessions of a European retailer,
January to June 2016. shopintent uses it to smoke-test session-based
next-item recommenders (SR-GNN's own preprocessing starts from this file);
it has views only, no carts or purchases, so it says nothing about buying.

Mapping to canonical view events (documented choices, not source facts):

- ``user_id`` is the ``session_id`` on every row. The source's ``user_id`` is
  ``NA`` on 7,681 rows; where given (1,270 logged-in users) each user appears
  in exactly one session of this sample, and two sessions carry two different
  user ids, so the session is the only identity that is both always present
  and consistent. The published user ids stay in :attr:`DigineticaViews.raw`.
- ``timestamp``: ``timeframe`` is the milliseconds since the session began
  (its first query, by the CIKM Cup description; queries are not in this
  file, so no view has 0), and
  ``eventdate`` is the day of each event. The time of day at which a session
  started is not published, so ``timestamp = start + timeframe`` with each
  session's start put at the earliest moment, read as UTC, that lies on its
  first ``eventdate`` and puts every view on its own ``eventdate``: 00:00 of
  that date or, for the two sessions that run past midnight, the moment
  that puts their first next-day view at 00:00 of the next day.
  Every gap inside a session is exact, and every timestamp's date is its
  view's ``eventdate`` (counted as ``timestamp_date_mismatch``, 0). Anchoring
  each view at its own date instead would insert a false 24-hour gap into
  those two sessions. The clock times are synthetic; dates and gaps are real.
- Rows are returned ordered by session, then time: the file lists a session's
  views in no time order (1,670 of the 2,986 sessions are not sorted).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema.validation import ValidationReport, validate_events
from shopintent.settings import Settings

_REPO, _COMMIT = "CRIPAC-DIG/SR-GNN", "e21cfa431f74c25ae6e4ae9261deefe11d1cb488"
FILE = "sample_train-item-views.csv"

SPEC = DatasetSpec(
    name="diginetica_sample",
    task="session-based next-item prediction (views only)",
    language="-",
    licence="Diginetica data released for CIKM Cup 2016, research use; "
    "SR-GNN repository has no licence file",
    citation="CIKM Cup 2016 Track 2 (DIGINETICA); Wu et al., Session-based Recommendation "
    "with Graph Neural Networks, AAAI 2019",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (datasets/{FILE})",
    files=(
        DataFile(
            path=FILE,
            sha256="98da96e05c87ef12b739e4bfd9bc7b4864106ee77371f1db9eb4413e3f78d37e",
            size=395_354,
            url=github_raw(_REPO, _COMMIT, f"datasets/{FILE}"),
        ),
    ),
    expected_counts={"rows": 12_391, "sessions": 2_986, "items": 7_139},
    description="Semicolon-separated with header session_id;user_id;item_id;timeframe;eventdate "
    "(timeframe = ms since the session's first event, eventdate = YYYY-MM-DD).",
)


@dataclass
class DigineticaViews:
    """The sample as canonical view events.

    ``events`` holds the valid views ordered by session, then time; ``raw``
    the file as published (ids as text, ``user_id`` ``<NA>`` where the source
    says ``NA``) in file order; ``report`` the validation of every row, whose
    row numbers are the file's data lines.
    """

    events: pd.DataFrame
    raw: pd.DataFrame
    report: ValidationReport


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The file as published: ids and dates as text, ``timeframe`` as integer milliseconds."""
    path = data_path(SPEC, FILE, settings)
    raw = pd.read_csv(
        path,
        sep=";",
        dtype={"session_id": "string", "user_id": "string", "item_id": "string",
               "timeframe": "int64", "eventdate": "string"},
        keep_default_na=False,
    )
    raw["user_id"] = raw["user_id"].mask(raw["user_id"] == "NA")
    return raw


def to_events(raw: pd.DataFrame) -> pd.DataFrame:
    """Map raw views onto canonical event columns (before validation), in file order."""
    day = pd.to_datetime(raw["eventdate"], format="%Y-%m-%d", errors="coerce")
    day = day.dt.tz_localize("UTC")
    offset = pd.to_timedelta(raw["timeframe"], unit="ms")
    by_session = raw["session_id"]
    # Earliest start on the first date that puts every view on its own date (module docstring).
    start = pd.concat(
        [
            day.groupby(by_session).transform("min"),
            (day - offset).groupby(by_session).transform("max"),
        ],
        axis=1,
    ).max(axis=1)
    return pd.DataFrame(
        {
            "user_id": raw["session_id"],
            "session_id": raw["session_id"],
            "timestamp": start + offset,
            "event_type": "view",
            "item_id": raw["item_id"],
        }
    )


def load(settings: Settings | None = None) -> DigineticaViews:
    """Load the sample as canonical view events ordered by session, then time."""
    raw = read_raw(settings)
    report = validate_events(to_events(raw))
    events = report.valid
    order = events.assign(_session=events["session_id"].astype("int64")).sort_values(
        ["_session", "timestamp"], kind="stable"
    )
    return DigineticaViews(
        events=events.loc[order.index].reset_index(drop=True), raw=raw, report=report
    )


def eventdate_out_of_order(raw: pd.DataFrame) -> int:
    """Views whose ``eventdate`` is earlier than that of a view before them in their session.

    A sanity check of the timestamp reading: ordered by ``timeframe``, the
    dates of a session may only stay or move forward.
    """
    ordered = raw.sort_values(["session_id", "timeframe"], kind="stable")
    day = pd.to_datetime(ordered["eventdate"], format="%Y-%m-%d")
    running_max = day.groupby(ordered["session_id"]).cummax()
    return int((day < running_max).sum())


def timestamp_date_mismatch(raw: pd.DataFrame) -> int:
    """Views whose mapped timestamp falls on another UTC day than their published ``eventdate``."""
    stamped = to_events(raw)["timestamp"].dt.strftime("%Y-%m-%d")
    return int((stamped != raw["eventdate"]).sum())


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    raw, events = loaded.raw, loaded.events
    dates_per_session = raw.groupby("session_id")["eventdate"].nunique()
    return {
        "rows": loaded.report.n_input,
        "rejected": loaded.report.n_rejected,
        "sessions": events["session_id"].nunique(),
        "items": events["item_id"].nunique(),
        "rows_with_user_id": int(raw["user_id"].notna().sum()),
        "users": raw["user_id"].nunique(),
        "sessions_crossing_midnight": int((dates_per_session > 1).sum()),
        "eventdate_out_of_order": eventdate_out_of_order(raw),
        "timestamp_date_mismatch": timestamp_date_mismatch(raw),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
