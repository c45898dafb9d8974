"""CDNOW (Fader & Hardie): real customer purchases of CDs, 1997-01 .. 1998-06.

Every transaction of a 1/10 sample (23,570 customers) of the people who first
bought at CDNOW in the first quarter of 1997, followed to the end of June
1998, plus the classic 2,357-customer summary (frequency, recency, T in weeks)
used by buy-till-you-die models. shopintent uses it for repeat-purchase and
customer-lifetime-value prediction: it is the standard public benchmark for
both, and its purchases are real.

Mapping to canonical purchase events (documented choices, not source facts):

- ``user_id`` is the published ``customer_id``, zero-padded text (``"00001"``).
- ``timestamp`` is the purchase date at 00:00 UTC: the source has no time of
  day and no time zone, so several purchases of one customer on one day share
  a timestamp and their order within the day is the file's.
- ``item_id`` is :data:`ITEM_PLACEHOLDER` (``"cd"``) on every row: CDNOW
  records only how many CDs were bought, never which, and canonical purchases
  must name an item.
- ``quantity`` is ``number_of_cds``; ``price`` is the unit price
  ``dollar_value / number_of_cds``, so ``price * quantity`` gives the
  transaction's dollars back (up to float rounding).
- ``event_id`` is ``cdnow:<data line>``, because 255 rows are exact duplicates
  of another row (same customer, day, CDs and dollars); the source does not say
  whether they are double entries, so they are kept as separate purchases and
  the id keeps an idempotent ingest from collapsing them.

Caveats: 80 transactions have ``dollar_value`` 0.00 (kept, price 0.0, counted
as ``zero_dollar``); a row with 0 CDs would have no unit price and is handed to
validation with quantity 0, which rejects and counts it (the file has none).
The summary's ids 1..2,357 are that sample's own numbering and do not match
``customer_id`` in the transaction file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema.validation import ValidationReport, validate_events
from shopintent.settings import Settings

_REPO, _COMMIT = "CamDavidsonPilon/lifetimes", "4f2833f4518621343bb6983eb3e540c11f66ec6a"
TRANSACTIONS = "CDNOW_master.txt"
SUMMARY = "cdnow_customers_summary.csv"

#: Stands in for the item of every purchase: the source never says which CDs were bought.
ITEM_PLACEHOLDER = "cd"

SPEC = DatasetSpec(
    name="cdnow",
    task="repeat purchase / customer lifetime value from real transactions",
    language="-",
    licence="Distributed freely by Bruce Hardie for research and teaching (no formal "
    "licence); lifetimes code is MIT",
    citation="Fader & Hardie, Forecasting Repeat Sales at CDNOW: A Case Study, "
    "Interfaces 31(3), 2001; Fader, Hardie & Lee, Counting Your Customers the Easy Way, "
    "Marketing Science 24(2), 2005",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (lifetimes/datasets/{TRANSACTIONS}, "
    f"lifetimes/datasets/{SUMMARY})",
    files=(
        DataFile(
            path=TRANSACTIONS,
            sha256="eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef",
            size=1_950_500,
            url=github_raw(_REPO, _COMMIT, f"lifetimes/datasets/{TRANSACTIONS}"),
        ),
        DataFile(
            path=SUMMARY,
            sha256="09d92ca80daaabe8be0f997d4c539f9c9606106baa5b199081fe01cbce5fa9f6",
            size=40_079,
            url=github_raw(_REPO, _COMMIT, f"lifetimes/datasets/{SUMMARY}"),
        ),
    ),
    expected_counts={
        "transactions": 69_659,
        "customers": 23_570,
        "first_date": 19970101,
        "last_date": 19980630,
        "summary_customers": 2_357,
    },
    description=f"{TRANSACTIONS}: whitespace-separated, CRLF, header 'customer_id date "
    f"number_of_cds dollar_value' (date YYYYMMDD); {SUMMARY}: ID,frequency,recency,T.",
    total_rows=69_659,
)


@dataclass
class CdnowData:
    """CDNOW as canonical purchases plus the 2,357-customer summary.

    ``events`` holds the valid purchases in file order (customer, then date);
    ``report`` the validation of every transaction; ``summary`` the BTYD
    table (``customer_id`` text, ``frequency`` repeat purchases, ``recency``
    and ``T`` in weeks).
    """

    events: pd.DataFrame
    report: ValidationReport
    summary: pd.DataFrame


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The transaction file as published: ids and dates as text, CDs and dollars as numbers."""
    path = data_path(SPEC, TRANSACTIONS, settings)
    return pd.read_csv(
        path,
        sep=r"\s+",
        dtype={"customer_id": "string", "date": "string",
               "number_of_cds": "int64", "dollar_value": "float64"},
    )


def read_summary(settings: Settings | None = None) -> pd.DataFrame:
    """The 2,357-customer frequency / recency / T table, ``ID`` renamed ``customer_id``."""
    path = data_path(SPEC, SUMMARY, settings)
    summary = pd.read_csv(
        path, dtype={"ID": "string", "frequency": "int64", "recency": "float64", "T": "float64"}
    )
    return summary.rename(columns={"ID": "customer_id"})


def to_events(raw: pd.DataFrame) -> pd.DataFrame:
    """Map raw transactions onto canonical event columns (before validation)."""
    cds = raw["number_of_cds"]
    unit_price = (raw["dollar_value"] / cds.where(cds != 0)).astype("float64")
    return pd.DataFrame(
        {
            "event_id": "cdnow:" + pd.Series(np.arange(1, len(raw) + 1), dtype="string"),
            "user_id": raw["customer_id"],
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "event_type": "purchase",
            "item_id": ITEM_PLACEHOLDER,
            "price": unit_price,
            "quantity": cds,
        }
    )


def load(settings: Settings | None = None) -> CdnowData:
    """Load the transactions as canonical purchases and the summary table."""
    report = validate_events(to_events(read_raw(settings)))
    return CdnowData(events=report.valid, report=report, summary=read_summary(settings))


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    events = loaded.events
    dates = events["timestamp"]
    return {
        "transactions": loaded.report.n_input,
        "rejected": loaded.report.n_rejected,
        "customers": events["user_id"].nunique(),
        "first_date": int(dates.min().strftime("%Y%m%d")),
        "last_date": int(dates.max().strftime("%Y%m%d")),
        "zero_dollar": int((events["price"] == 0).sum()),
        "duplicate_rows": int(events.duplicated(subset=["user_id", "timestamp", "price",
                                                        "quantity"]).sum()),
        "cds": int(events["quantity"].sum()),
        "summary_customers": len(loaded.summary),
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
