"""The one ingest path: validate → pseudonymise and scrub → append to the store.

Every way events enter shopintent (a file, a data-set loader, the HTTP API, a
stream consumer) goes through :func:`ingest_events`, so privacy is never
skipped and every rejected row is counted with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.privacy import Pseudonymizer, protect_events
from shopintent.schema import Event
from shopintent.schema.validation import Rejection, validate_events
from shopintent.store.event_store import EventStore

#: File suffixes :func:`read_event_file` understands.
EVENT_FILE_FORMATS: tuple[str, ...] = (".csv", ".parquet", ".jsonl", ".ndjson")


@dataclass
class IngestReport:
    """What happened to one batch: how many came, were kept, stored, and why others were not."""

    input: int
    accepted: int
    rejected: int
    appended: int
    duplicates: int
    rejections: list[Rejection] = field(default_factory=list)

    def as_dict(self, max_reasons: int = 20) -> dict[str, Any]:
        return {
            "input": self.input,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "reasons": [str(r) for r in self.rejections[:max_reasons]],
        }


def ingest_events(
    store: EventStore,
    batch: pd.DataFrame | Iterable[Mapping[str, Any] | Event],
    pseudonymizer: Pseudonymizer,
) -> IngestReport:
    """Validate a batch, protect its ids and text, and append the valid rows to ``store``."""
    report = validate_events(batch)
    protected = protect_events(report.valid, pseudonymizer)
    appended = store.append(protected)
    return IngestReport(
        input=report.n_input,
        accepted=report.n_valid,
        rejected=report.n_rejected,
        appended=appended.appended,
        duplicates=appended.duplicates,
        rejections=report.rejections,
    )


def read_event_file(path: Path) -> pd.DataFrame:
    """Read a shop's event log (CSV with header, Parquet or JSON lines) as raw strings/values.

    Columns are named as the canonical event fields (``user_id, item_id,
    event_type, timestamp`` and optional ``session_id, category_id, query,
    price, quantity, event_id``); validation happens in :func:`ingest_events`.
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"event file {path} does not exist")
    if suffix == ".csv":
        return pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    raise ValueError(
        f"event file {path}: unknown format {suffix!r}; use one of {', '.join(EVENT_FILE_FORMATS)}"
    )
