"""A short, honest summary of what a store holds: the demo's and ``store summary``'s report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from shopintent.store import pipelines
from shopintent.store.event_store import TABLE, EventStore


@dataclass
class StoreSummary:
    """Counts, the session funnel and the top categories of one store."""

    events: int
    users: int
    items: int
    sessions: int
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None
    event_types: dict[str, int]
    funnel: pd.DataFrame
    top_categories: pd.DataFrame
    gap_minutes: float
    mean_events_per_session: float
    median_session_duration_s: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (timestamps as ISO-8601)."""
        return {
            "events": self.events,
            "users": self.users,
            "items": self.items,
            "sessions": self.sessions,
            "session_gap_minutes": self.gap_minutes,
            "first_event": None if self.first_event is None else self.first_event.isoformat(),
            "last_event": None if self.last_event is None else self.last_event.isoformat(),
            "event_types": self.event_types,
            "mean_events_per_session": self.mean_events_per_session,
            "median_session_duration_s": self.median_session_duration_s,
            "funnel": self.funnel.to_dict(orient="records"),
            "top_categories": self.top_categories.to_dict(orient="records"),
        }

    def print(self, console: Console) -> None:
        """Render the summary as three small tables."""
        overview = Table(title="Store", show_header=False)
        overview.add_column("what")
        overview.add_column("value", justify="right")
        span = f"{self.first_event} .. {self.last_event}" if self.first_event is not None else "-"
        for label, value in [
            ("events", f"{self.events:,}"),
            ("users", f"{self.users:,}"),
            ("items", f"{self.items:,}"),
            (f"sessions ({self.gap_minutes:g}-min gap)", f"{self.sessions:,}"),
            ("events per session (mean)", f"{self.mean_events_per_session:.2f}"),
            ("session duration (median)", f"{self.median_session_duration_s:,.0f} s"),
            ("time span (UTC)", span),
            *[(f"  {name}", f"{count:,}") for name, count in self.event_types.items()],
        ]:
            overview.add_row(label, value)
        console.print(overview)

        funnel = Table(title="Session funnel view → cart → purchase")
        for column in ("stage", "sessions", "of previous", "of all", "sessions with event"):
            funnel.add_column(column, justify="right")
        for row in self.funnel.itertuples(index=False):
            funnel.add_row(row.stage, f"{row.sessions:,}", f"{row.rate_from_previous:.1%}",
                           f"{row.rate_from_start:.1%}", f"{row.sessions_with_event:,}")
        console.print(funnel)

        top = Table(title=f"Top {len(self.top_categories)} categories")
        for column in self.top_categories.columns:
            top.add_column(column, justify="right")
        for row in self.top_categories.itertuples(index=False):
            top.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
        console.print(top)


def summarise(store: EventStore, gap_minutes: float = pipelines.DEFAULT_GAP_MINUTES, top: int = 10) -> StoreSummary:
    """Compute the summary with the store's own engine."""
    engine = store.engine()
    totals = engine.sql(
        f"SELECT COUNT(*) AS events, COUNT(DISTINCT user_id) AS users, "
        f"COUNT(DISTINCT item_id) AS items, MIN(timestamp) AS first_event, "
        f"MAX(timestamp) AS last_event FROM {TABLE}"
    ).iloc[0]
    types = engine.sql(
        f"SELECT event_type, COUNT(*) AS n FROM {TABLE} GROUP BY event_type ORDER BY n DESC, event_type"
    )
    aggregates = store.session_aggregates(gap_minutes)
    events = int(totals["events"])
    return StoreSummary(
        events=events,
        users=int(totals["users"]),
        items=int(totals["items"]),
        sessions=len(aggregates),
        first_event=None if events == 0 else pd.Timestamp(totals["first_event"]),
        last_event=None if events == 0 else pd.Timestamp(totals["last_event"]),
        event_types={str(r.event_type): int(r.n) for r in types.itertuples(index=False)},
        funnel=pipelines.funnel(aggregates),
        top_categories=store.top_categories(top),
        gap_minutes=gap_minutes,
        mean_events_per_session=float(aggregates["n_events"].mean()) if len(aggregates) else 0.0,
        median_session_duration_s=float(aggregates["duration_s"].median()) if len(aggregates) else 0.0,
    )
