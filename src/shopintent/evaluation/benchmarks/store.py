"""Store benchmark: how fast real events enter the DuckDB store, and how fast sessions come out.

Protocol: the 84,439 in-window Taobao UserBehavior events, each given a unique
``event_id`` so the idempotency check does real work, ingested into a fresh
file-backed store in batches; repeated and the median reported. Timings are
wall-clock on the machine named in the result.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.privacy import Pseudonymizer, protect_events
from shopintent.schema.validation import validate_events
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events

REPETITIONS = 5
BATCH_SIZE = 10_000


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _with_ids(events: pd.DataFrame, run: int) -> pd.DataFrame:
    out = events.copy()
    out["event_id"] = pd.array([f"r{run}-{i}" for i in range(len(out))], dtype="string")
    return out


def _ingest_all(path: Path, events: pd.DataFrame, pseudonymizer: Pseudonymizer) -> None:
    with EventStore(path) as store:
        for start in range(0, len(events), BATCH_SIZE):
            ingest_events(store, events.iloc[start : start + BATCH_SIZE], pseudonymizer)


def run(settings: Settings) -> BenchResult:
    """Measure validation, ingest (end to end and append only) and sessionisation."""
    events = taobao_userbehavior_head.load(settings).events
    n = len(events)
    pseudonymizer = Pseudonymizer(key=b"benchmark-key-not-secret-32-bytes!")
    ingest_s, append_s, validate_s, sessions_s = [], [], [], []
    n_sessions = 0
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(REPETITIONS):
            batch = _with_ids(events, rep)
            validate_s.append(_timed(lambda: validate_events(batch)))
            ingest_s.append(_timed(lambda: _ingest_all(Path(tmp) / f"e2e{rep}.duckdb", batch, pseudonymizer)))
            ready = protect_events(validate_events(batch).valid, pseudonymizer)
            with EventStore(Path(tmp) / f"append{rep}.duckdb") as store:
                append_s.append(_timed(lambda: store.append(ready)))
                start = time.perf_counter()
                aggregates = store.session_aggregates(settings.session_gap_minutes)
                sessions_s.append(time.perf_counter() - start)
                n_sessions = len(aggregates)
    median = statistics.median
    protocol = f"Taobao {n:,} events, median of {REPETITIONS}"
    return BenchResult(
        area="store",
        measurements=[
            Measurement("ingest end to end (validate → pseudonymise/scrub → DuckDB append)",
                        n / median(ingest_s), "events/s", f"{protocol}, batches of {BATCH_SIZE:,}"),
            Measurement("append only (pre-validated frame)", n / median(append_s), "events/s", protocol),
            Measurement("validation only", n / median(validate_s), "events/s", protocol),
            Measurement("sessionise + per-session aggregates (DuckDB)", median(sessions_s), "s",
                        f"{protocol}, {n_sessions:,} sessions, {settings.session_gap_minutes:g}-min gap"),
        ],
        data={taobao_userbehavior_head.FILE: taobao_userbehavior_head.SPEC.files[0].sha256},
        parameters={"repetitions": REPETITIONS, "batch_size": BATCH_SIZE, "events": n,
                    "session_gap_minutes": settings.session_gap_minutes},
    )
