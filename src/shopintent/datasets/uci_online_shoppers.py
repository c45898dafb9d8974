"""Online Shoppers Purchasing Intention (UCI 468): one row per real shop session.

12,330 sessions of one Turkish online retailer over a year, each summarised by
Google Analytics (pages and seconds per page type, bounce and exit rates, page
value, closeness to a special day, month, visitor type, weekend) and labelled
``revenue`` = whether it ended in a purchase (1,908 did, 15.5 %). shopintent
uses it to train and calibrate its session-level purchase-intent model: it is
the standard public benchmark for that task, and its sessions are real.

Representation: snake_case column names (``ProductRelated_Duration`` →
``product_related_duration``); page counts as nullable integers; durations,
rates, page values and ``special_day`` as floats (NaN where missing);
``month`` and ``visitor_type`` as categories in the source's spelling
(``month`` ordered by the calendar, with ``"June"`` where the other months
are abbreviated); ``weekend`` and ``revenue`` as booleans;
``operating_systems``, ``browser``, ``region``, ``traffic_type`` as the
integer codes the source gives (categorical codes, not quantities:
:data:`CODE_COLUMNS`).

Caveats, all kept visible rather than fixed silently:

- 14 sessions (all non-buying, March) have no value in the first eight
  columns: they stay missing (``<NA>``), counted as ``missing_page_stats``.
- 33 sessions have a duration of -1 seconds in some page type, a sentinel, not
  a measurement: those durations are read as missing, counted as
  ``negative_duration_sessions``.
- 119 rows duplicate an earlier row exactly; sessions are aggregates, so
  identical ones can be genuine, and all are kept (``duplicate_rows``).
- January and April have no sessions.
- ``page_values`` nearly leaks the label: Google Analytics derives a page's
  value from the transactions that followed visits to it, so a model that
  must predict intent before checkout has to leave it out or be read with
  that in mind.
"""

from __future__ import annotations

import re

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.settings import Settings

_REPO = "menaceonzenith/online-shoppers-intentions"
_COMMIT = "f628b67b07cfd1b7816dd5d2a1487bfda0764b77"
FILE = "online_shoppers_intention.csv"

#: Months as the source spells them, in calendar order.
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)
VISITOR_TYPES: tuple[str, ...] = ("Returning_Visitor", "New_Visitor", "Other")
PAGE_COUNT_COLUMNS: tuple[str, ...] = ("administrative", "informational", "product_related")
DURATION_COLUMNS: tuple[str, ...] = tuple(f"{name}_duration" for name in PAGE_COUNT_COLUMNS)
FLOAT_COLUMNS: tuple[str, ...] = ("bounce_rates", "exit_rates", "page_values", "special_day")
CODE_COLUMNS: tuple[str, ...] = ("operating_systems", "browser", "region", "traffic_type")
LABEL = "revenue"

SPEC = DatasetSpec(
    name="uci_online_shoppers",
    task="session-level purchase intent (did the session end in revenue?)",
    language="-",
    licence="CC BY 4.0 (UCI Machine Learning Repository); the copying repository has no licence",
    citation="Sakar, Polat, Katircioglu & Kastro, Real-time prediction of online shoppers' "
    "purchasing intention using multilayer perceptron and LSTM recurrent neural networks, "
    "Neural Computing and Applications 31, 2019",
    source=f"https://github.com/{_REPO} @ {_COMMIT} ({FILE}, blob "
    "26ffa393a8fa489abdec5cf8de3884a40bb864c0; a copy of the UCI file)",
    files=(
        DataFile(
            path=FILE,
            sha256="9cda002173422ffbd455fbedcb378cd8b7cea1e6b727faaa39aec08d087d8120",
            size=1_071_973,
            url=github_raw(_REPO, _COMMIT, FILE),
        ),
    ),
    expected_counts={
        "rows": 12_330,
        "revenue_true": 1_908,
        "revenue_false": 10_422,
        "visitor_type.Returning_Visitor": 10_551,
        "visitor_type.New_Visitor": 1_694,
        "visitor_type.Other": 85,
        "month.May": 3_364,
        "month.Nov": 2_998,
    },
    description="CSV with header; 10 numeric columns, Month (Feb..Dec, 'June'), four integer "
    "codes, VisitorType, Weekend and Revenue as TRUE/FALSE.",
)


def snake_case(name: str) -> str:
    """Turn a source column name into snake_case (``ProductRelated`` → ``product_related``)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The file as published, with pandas' default types (``TRUE``/``FALSE`` as booleans)."""
    return pd.read_csv(data_path(SPEC, FILE, settings))


def to_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename and type the published columns (see the module docstring)."""
    known = {"Month": MONTHS, "VisitorType": VISITOR_TYPES}
    unknown = {
        column: sorted(set(raw[column].dropna()) - set(categories))
        for column, categories in known.items()
    }
    unknown = {column: values for column, values in unknown.items() if values}
    if unknown:
        raise ValueError(f"{FILE}: values outside the known categories: {unknown}")
    table = raw.rename(columns=snake_case)
    for column in PAGE_COUNT_COLUMNS:
        table[column] = table[column].astype("Int64")
    for column in DURATION_COLUMNS:
        table[column] = table[column].astype("float64").mask(table[column] < 0)
    for column in FLOAT_COLUMNS:
        table[column] = table[column].astype("float64")
    for column in CODE_COLUMNS:
        table[column] = table[column].astype("int64")
    table["month"] = pd.Categorical(table["month"], categories=MONTHS, ordered=True)
    table["visitor_type"] = pd.Categorical(table["visitor_type"], categories=VISITOR_TYPES)
    for column in ("weekend", LABEL):
        table[column] = table[column].astype("bool")
    return table


def load(settings: Settings | None = None) -> pd.DataFrame:
    """Load the sessions as a typed table with snake_case columns (see the module docstring)."""
    return to_table(read_raw(settings))


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    raw = read_raw(settings)
    table = to_table(raw)
    negative = (raw[["Administrative_Duration", "Informational_Duration",
                     "ProductRelated_Duration"]] < 0).any(axis=1)
    return {
        "rows": len(table),
        "revenue_true": int(table[LABEL].sum()),
        "revenue_false": int((~table[LABEL]).sum()),
        **{f"visitor_type.{name}": int(n)
           for name, n in table["visitor_type"].value_counts(sort=False).items()},
        **{f"month.{name}": int(n) for name, n in table["month"].value_counts(sort=False).items()},
        "weekend": int(table["weekend"].sum()),
        "missing_page_stats": int(raw.isna().any(axis=1).sum()),
        "negative_duration_sessions": int(negative.sum()),
        "duplicate_rows": int(raw.duplicated().sum()),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
