"""The load/fault harness lives in the checkout's benchmarks/, not in the product package.

``shopintent bench serve`` still runs it from a checkout; an installed package without
``benchmarks/`` reports the area as not built. A short real run of the benchmark's ingest
step pins that the split benchmark still measures what it did.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import benchmarks.serve
from benchmarks.support import ServiceProcess
from shopintent.evaluation.bench import available_areas
from shopintent.evaluation.benchmarks import serve as serve_area
from shopintent.settings import Settings
from tests.serve.conftest import taobao_records

SRC = Path(__file__).resolve().parents[2] / "src" / "shopintent"


def test_the_product_package_ships_no_load_generator_or_kill_9() -> None:
    assert importlib.util.find_spec("shopintent.serve.loadtest") is None
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if "SIGKILL" in p.read_text(encoding="utf-8") or "def open_loop" in p.read_text(encoding="utf-8")]
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
    records = taobao_records(settings, 300)
    service = ServiceProcess(settings, tmp_path / "ingest.duckdb", benchmarks.serve.API_KEY, ["--no-models"],
                             log_path=tmp_path / "svc.log")
    service.start()
    try:
        batched, single = benchmarks.serve._ingest_runs(service, records)
    finally:
        service.stop()
    assert batched.name == "HTTP ingest, batched" and batched.unit == "events/s"
    assert batched.value > 0 and "Taobao 300 events" in batched.detail and "errors 0" in batched.detail
    assert single.name == "HTTP ingest, one event per request" and single.value > 0
    assert "errors 0" in single.detail
