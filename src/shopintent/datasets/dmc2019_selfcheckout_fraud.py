"""DATA MINING CUP 2019: real self-checkout transactions of a food retailer, labelled fraud or not.

1,879 transactions scanned by customers with a hand-held scanner, each
summarised by nine numbers (trust level, scan time, basket value, voided
scans, scans without a product, quantity changes and three ratios of them) and
labelled ``fraud`` = a follow-up check found a discrepancy (104, 5.5 %).
shopintent uses it for the transaction-fraud model of :mod:`shopintent.risk`:
it is a real, public, labelled fraud set with the organiser's business cost
matrix (:data:`COST_MATRIX`), which makes it the test of cost-aware actions.

Representation: the file's own column names (camelCase, as the organiser
wrote them), integers for counts and the trust level, floats for the rest,
``fraud`` as 0/1 integers. Caveats kept visible: the label covers any
discrepancy, intentional or not; the last three columns are ratios of the
others; the data are tiny and have no time or customer id, so only
cross-validation is possible.
"""

from __future__ import annotations

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.settings import Settings

_REPO, _COMMIT = "Vahidsj/DMC19---Data-Science-Team", "cb672a0b903fb5b8cc1bca0f9b432708495fe123"
FILE = "train.csv"
FEATURES_PDF = "DATA-MINING-CUP-2019-features.pdf"
LABEL = "fraud"
#: The organiser's profit per transaction (task text): caught fraud, false alarm, missed fraud, correct pass.
COST_MATRIX: tuple[float, float, float, float] = (5.0, -25.0, -5.0, 0.0)
INTEGER_COLUMNS: tuple[str, ...] = (
    "trustLevel", "totalScanTimeInSeconds", "lineItemVoids", "scansWithoutRegistration",
    "quantityModifications",
)
FLOAT_COLUMNS: tuple[str, ...] = (
    "grandTotal", "scannedLineItemsPerSecond", "valuePerSecond", "lineItemVoidsPerPosition",
)
FEATURES: tuple[str, ...] = (
    "trustLevel", "totalScanTimeInSeconds", "grandTotal", "lineItemVoids", "scansWithoutRegistration",
    "quantityModifications", "scannedLineItemsPerSecond", "valuePerSecond", "lineItemVoidsPerPosition",
)

SPEC = DatasetSpec(
    name="dmc2019_selfcheckout_fraud",
    task="transaction fraud at self-checkouts, with a business cost matrix",
    language="-",
    licence="none stated; data issued by prudsys AG to DMC 2019 participants: research and "
    "teaching use only, do not redistribute",
    citation="DATA MINING CUP 2019 task, prudsys AG (data-mining-cup.com/dmc-2019)",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (Dataset/train.csv, blob "
    "0a1589d8041228b4e69dd9eb71fe8b7d122f6d1e; Documents/DATA-MINING-CUP-2019-features.pdf)",
    files=(
        DataFile(
            path=FEATURES_PDF,
            sha256="b1eacfdf61b60a701c279f78127fef12525c609b74d8f33d41137b9f369b6644",
            size=102_694,
            url=github_raw(_REPO, _COMMIT, "Documents/DATA-MINING-CUP-2019-features.pdf"),
        ),
        DataFile(
            path=FILE,
            sha256="f6143990cf5a201a5248d50cb1c4dbb3430cecad1bc184ea187f46d2965841e4",
            size=130_248,
            url=github_raw(_REPO, _COMMIT, "Dataset/train.csv"),
        ),
    ),
    expected_counts={
        "rows": 1_879, "fraud_1": 104, "fraud_0": 1_775,
        "trustLevel.1": 332, "trustLevel.2": 347, "trustLevel.3": 318,
        "trustLevel.4": 289, "trustLevel.5": 302, "trustLevel.6": 291,
    },
    description="Pipe-separated with a header row, no quotes, LF line endings; nine numeric "
    "columns and fraud (0/1).",
)


def read_raw(settings: Settings | None = None) -> pd.DataFrame:
    """The file as published (pipe-separated), pandas' default types."""
    return pd.read_csv(data_path(SPEC, FILE, settings), sep="|")


def to_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Type the published columns; raise naming any column that is missing or out of range."""
    missing = [c for c in (*FEATURES, LABEL) if c not in raw.columns]
    if missing:
        raise ValueError(f"{FILE}: missing column(s) {missing}")
    table = raw[[*FEATURES, LABEL]].copy()
    for column in (*INTEGER_COLUMNS, LABEL):
        table[column] = table[column].astype("int64")
    for column in FLOAT_COLUMNS:
        table[column] = table[column].astype("float64")
    bad = table.index[~table[LABEL].isin([0, 1])]
    if len(bad):
        raise ValueError(f"{FILE}: row {int(bad[0]) + 2}: `fraud` must be 0 or 1")
    return table


def load(settings: Settings | None = None) -> pd.DataFrame:
    """The transactions as a typed table (see the module docstring)."""
    return to_table(read_raw(settings))


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the file."""
    table = load(settings)
    return {
        "rows": len(table),
        "fraud_1": int((table[LABEL] == 1).sum()),
        "fraud_0": int((table[LABEL] == 0).sum()),
        **{f"trustLevel.{k}": int(v) for k, v in table["trustLevel"].value_counts().sort_index().items()},
    }


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
