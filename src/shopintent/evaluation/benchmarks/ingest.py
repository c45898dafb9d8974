"""Ingest fast-path benchmark: what preparing a small write group costs on each path.

Protocol: rows of the real Taobao UserBehavior log, as a shop sends them over HTTP
(ids and unix seconds as text, alternate rows with a client ``event_id`` and a
search query), prepared for the event log by
:func:`shopintent.store.ingest.prepare_records` in batches of 1, 10, 100 and 1,000
events, forced once down the row-wise path and once down the table path. Each call
takes fresh rows (nothing is cached between calls); the median per call is reported
as wall time (``time.perf_counter``) and as this process's CPU time
(``time.process_time``), which a busy machine inflates less. Bigger batches (up to
10,000, the API's limit) are timed by CPU too: where the paths' costs meet is what
``FAST_PATH_MAX_ROWS`` is chosen from.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shopintent.datasets import taobao_userbehavior_head
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import ingest

#: Batch sizes reported, and the sizes the threshold is chosen from.
SIZES = (1, 10, 100, 1_000)
CROSSOVER_SIZES = (64, 256, 3_000, 10_000)
#: Row-wise calls per size: enough for a stable median on a shared machine. The table
#: path costs milliseconds per call whatever the size, so it gets at most TABLE_CALLS.
CALLS = {1: 1_000, 10: 400, 64: 100, 100: 60, 256: 30, 1_000: 12, 3_000: 5, 10_000: 3}
TABLE_CALLS = 40
_PATHS = {"row-wise": 10**9, "table": 0}


@contextmanager
def _path(name: str) -> Iterator[None]:
    """Force every prepare_records call down one path (the threshold is a module constant)."""
    saved = ingest.FAST_PATH_MAX_ROWS
    ingest.FAST_PATH_MAX_ROWS = _PATHS[name]
    try:
        yield
    finally:
        ingest.FAST_PATH_MAX_ROWS = saved


def _shop_rows(settings: Settings) -> list[dict[str, Any]]:
    """The real log's rows as HTTP clients send them."""
    raw = taobao_userbehavior_head.read_raw(settings)
    rows = []
    for i, row in enumerate(raw.to_dict(orient="records")):
        event = {k: v for k, v in row.items() if isinstance(v, str)}
        if i % 2:
            event["event_id"] = f"bench-{i}"
            event["query"] = "red dress size M"
        rows.append(event)
    return rows


def _per_call(rows: list[dict[str, Any]], size: int, calls: int,
              pseudonymizer: Pseudonymizer) -> tuple[float, float]:
    """Median wall and CPU seconds of one prepare_records call on ``size`` fresh rows."""
    wall, cpu = [], []
    for call in range(calls):
        start = (call * size) % (len(rows) - size)
        batch = rows[start : start + size]
        w0, c0 = time.perf_counter(), time.process_time()
        ingest.prepare_records(batch, pseudonymizer)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


def _calls(path: str, size: int) -> int:
    return CALLS[size] if path == "row-wise" else min(CALLS[size], TABLE_CALLS)


def run(settings: Settings) -> BenchResult:
    """Time both paths of prepare_records per batch size."""
    rows = _shop_rows(settings)
    pseudonymizer = Pseudonymizer(key=b"benchmark-key-not-secret-32-bytes!")
    timings: dict[tuple[str, int], tuple[float, float]] = {}
    for size in sorted({*SIZES, *CROSSOVER_SIZES}):
        for name in _PATHS:
            with _path(name):
                _per_call(rows, size, 3, pseudonymizer)  # warm: imports, regexes, HMAC states
                timings[name, size] = _per_call(rows, size, _calls(name, size), pseudonymizer)
    measurements = []
    for size in SIZES:
        for name in _PATHS:
            wall, cpu = timings[name, size]
            what = f"prepare_records, {size:,} event{'s' if size > 1 else ''}, {name} path"
            detail = f"median of {_calls(name, size):,} calls on real Taobao rows"
            measurements.append(Measurement(what, wall * 1e3, "ms", detail))
            measurements.append(Measurement(f"{what}, CPU", cpu * 1e3, "ms",
                                            f"{detail}, time.process_time"))
    crossover = {f"{name} {size}": {"wall_ms": round(timings[name, size][0] * 1e3, 3),
                                     "cpu_ms": round(timings[name, size][1] * 1e3, 3)}
                 for size in CROSSOVER_SIZES for name in _PATHS}
    return BenchResult(
        area="ingest",
        measurements=measurements,
        data={taobao_userbehavior_head.FILE: taobao_userbehavior_head.SPEC.files[0].sha256},
        parameters={"sizes": list(SIZES), "calls": {str(k): v for k, v in CALLS.items()},
                    "table_calls": TABLE_CALLS,
                    "fast_path_max_rows": ingest.FAST_PATH_MAX_ROWS,
                    "crossover_per_call": crossover},
        notes=("Row-wise and table paths give byte-identical records "
               "(tests/store/test_fast_path.py). Command: shopintent bench ingest."),
    )
