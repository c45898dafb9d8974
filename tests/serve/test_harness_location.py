"""The load/fault harness lives in the checkout's benchmarks/, not in the product package.

``shopintent bench serve`` still runs it from a checkout; an installed package without
``benchmarks/`` reports the area as not built. A short real run of the benchmark's ingest
step pins that the split benchmark still measures what it did.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import benchmarks.serve
from benchmarks.support import Request, ServiceProcess, numbered_events, start_load
from benchmarks.support.features import FeatureMissing, require_option
from benchmarks.support.ladder import Rung, knee
from benchmarks.support.load import LoadResult, cpu_split
from shopintent.evaluation.bench import available_areas
from shopintent.evaluation.benchmarks import serve as serve_area
from shopintent.settings import Settings
from tests.serve.conftest import taobao_records

SRC = Path(__file__).resolve().parents[2] / "src" / "shopintent"


#: What only the harness defines: load generators and fault injection. (A supervisor may still
#: SIGKILL a worker that ignores SIGTERM; that is shutdown, not fault injection.)
HARNESS_ONLY = ("def open_loop", "def closed_loop", "def start_load", "def kill9_run", "def fault_run")


def test_the_product_package_ships_no_load_generator_or_kill_9() -> None:
    assert importlib.util.find_spec("shopintent.serve.loadtest") is None
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if any(marker in p.read_text(encoding="utf-8") for marker in HARNESS_ONLY)]
    assert offenders == []


def test_bench_serve_runs_the_checkouts_benchmark() -> None:
    assert serve_area.run is benchmarks.serve.run
    assert "serve" in available_areas()


def test_without_a_checkout_the_serve_area_is_not_built(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setattr(serve_area, "CHECKOUT", tmp_path)
    with pytest.raises(ModuleNotFoundError, match="runs from a source checkout") as caught:
        serve_area._checkout_benchmark()
    assert caught.value.name == "benchmarks.serve"


def test_the_benchmarks_ingest_step_measures_real_events_over_http(settings: Settings, tmp_path: Path) -> None:
    records = taobao_records(settings, 400)
    service = ServiceProcess(settings, tmp_path / "ingest.duckdb", benchmarks.serve.API_KEY, ["--no-models"],
                             log_path=tmp_path / "svc.log")
    service.start()
    _, load_cpus = cpu_split()
    try:
        batched, single = benchmarks.serve._ingest_runs(service, records[:300], 300)
        # The load generator: its own process, pinned, open loop, acknowledged keyed ids back.
        events = numbered_events(records[300:], "own")
        sent = start_load(service.url, [Request("POST", "/v1/events", e) for e in events],
                          benchmarks.serve.API_KEY, rate=200.0, cpus=load_cpus, record_acks=True).result()
    finally:
        service.stop()
    assert batched.name == "HTTP ingest, batched" and batched.unit == "events/s"
    assert batched.value > 0 and "Taobao 300 events" in batched.detail and "errors 0" in batched.detail
    assert single.name == "HTTP ingest, one event per request" and single.value > 0
    assert "errors 0" in single.detail
    assert sent.errors == 0 and sent.requests == 100 and len(sent.latencies_ms) == 100
    assert sent.cpus == load_cpus
    assert all(len(ids) == 1 and ids[0].startswith("e_") for ids in sent.acked_ids)
    assert len({ids[0] for ids in sent.acked_ids}) == 100
    assert sent.seconds >= 99 / 200.0  # open loop: the last request was due at 0.495 s
    assert service.process is not None and sent.pid not in (os.getpid(), service.process.pid)


def test_the_knee_is_the_highest_rate_within_the_goal() -> None:
    def rung(rate: float, p99: float) -> Rung:
        return Rung(rate, LoadResult(1, 1, 1.0, 0), {"decision_p99_ms": p99})

    assert knee([rung(250, 4.0), rung(500, 9.5), rung(1000, 20.0), rung(1500, 31.0)]) == 1000
    assert knee([rung(250, 12.0), rung(500, 25.0), rung(1000, 8.0)]) == 1000  # highest, not first
    assert knee([rung(250, 21.0), rung(1000, float("nan"))]) == 0.0  # no decision is no pass


def test_a_measurement_needing_a_missing_serve_option_names_it() -> None:
    with pytest.raises(FeatureMissing, match="`shopintent serve --no-such-option`") as caught:
        require_option("--no-such-option", "the imaginary run")
    assert caught.value.measurement == "the imaginary run"
    require_option("--stream", "the redis run", "redis")  # present: no error
