"""Service benchmark: HTTP ingest, intent and event→decision latency, start time, kill -9 recovery.

Protocol (loopback only, one uvicorn worker, the load generator in the same
2-core machine — so the numbers are a floor, not a ceiling):

* start: ``shopintent serve`` until ``/readyz`` reports text, behaviour and
  intervene loaded, with the default models already cached in the state folder;
* batched ingest: the 84,439 in-window Taobao events (unique ids) in requests
  of 500 events, 4 in flight; the service stores, updates session state and
  decides on cart/favourite events (``--auto-decide cart``);
* single-event ingest: 3,000 one-event requests, 16 in flight;
* intent: 2,000 ``POST /v1/intent`` (Bitext test-split texts), 16 in flight;
* event → decision: the Taobao events in time order, one per request, at a
  fixed offered rate (open loop, ``--auto-decide cart``); latency runs from the
  scheduled send to the response, which carries the decision for cart and
  favourite events (reported for those, and for all events);
* kill -9: 20,000 events in batches of 50, the service is killed after 5,000
  acknowledged events, restarted, and everything is re-sent.

This module and its harness (:mod:`benchmarks.support`) live in the source
checkout, not in the installed package: ``shopintent bench serve`` finds them
there (:mod:`shopintent.evaluation.benchmarks.serve`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.support import ServiceProcess, closed_loop, kill9_run, numbered_events, open_loop
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.serve.replay import taobao_stream
from shopintent.settings import Settings

API_KEY = "bench-key"
BATCH = 500
DECISION_RATES = (250.0, 1000.0)
DECISION_SECONDS = 5.0
ALL_MODELS = ("text", "behaviour", "recommend", "intervene")


def _prepare_models(settings: Settings) -> None:
    """Cache the default models (behaviour ~30 s, recommender ~1.5 min, shop intent ~1 min on first
    use), so no model trains while the service is measured."""
    from shopintent.behaviour import load_default_models
    from shopintent.recommend import load_default_recommender
    from shopintent.text.defaults import ensure_model

    load_default_models(settings)
    load_default_recommender(settings)
    ensure_model(settings, "shop_intent", True)


def _texts(settings: Settings, n: int) -> list[str]:
    from shopintent.text import recipes

    texts = recipes.shop_intent_splits(settings)["test"].texts
    return [texts[i % len(texts)] for i in range(n)]


def _decision_runs(settings: Settings, work: Path, records: list[dict[str, object]],
                   rates: tuple[float, ...], history: bool) -> list[Measurement]:
    """Event → decision latency at each offered rate on a fresh service.

    ``history=False`` starts the service with ``--no-shopper-history`` (every
    session scored as a first visit, the behaviour before issue 11) on the same
    events, so the cost of the shopper history is measured side by side.
    """
    flags = ["--auto-decide", "cart", "--no-train-missing"]
    suffix = "" if history else " (no shopper history, for comparison)"
    if not history:
        flags.append("--no-shopper-history")
    name = "decide.duckdb" if history else "decide-nohistory.duckdb"
    service = ServiceProcess(settings, work / name, API_KEY, flags, log_path=work / "svc.log")
    service.start("/readyz", wait_models=ALL_MODELS)
    measurements = []
    try:
        offset = 0
        for rate in rates:
            n = int(rate * DECISION_SECONDS)
            # The real event mix, in time order, one event per request; cart/favourite events
            # make the engine decide for their session before the response is sent.
            sent = numbered_events(records[offset : offset + n], f"d{int(rate)}")
            offset += n
            result = open_loop(service.url + "/v1/events", sent, API_KEY, rate, max_connections=256)
            s = result.summary()
            detail = (f"{n:,} Taobao events in time order, one per request, offered at {rate:,.0f}/s "
                      f"(open loop, up to 256 connections, latency from the scheduled send), achieved "
                      f"{s['requests_per_s']:,.0f}/s; {s['with_decision']} responses carried a "
                      f"decision; errors {s['errors']}")
            measurements += [
                Measurement(f"event in → decision out p50 at {rate:,.0f} events/s{suffix}",
                            s["decision_p50_ms"], "ms", detail),
                Measurement(f"event in → decision out p99 at {rate:,.0f} events/s{suffix}",
                            s["decision_p99_ms"], "ms", detail),
                Measurement(f"event in → stored p99 at {rate:,.0f} events/s (all events){suffix}",
                            s["p99_ms"], "ms", detail),
            ]
    finally:
        service.stop()
    return measurements


def _write_group_cost(settings: Settings, work: Path, records: list[dict[str, object]]) -> list[Measurement]:
    """Milliseconds per write group of the shared ingest path (library call, no HTTP).

    The fixed cost per group (validation, protection, DuckDB append) is what bounds
    one-event-per-request latency; measured here so a change of machine or of
    pandas/DuckDB shows up beside the HTTP numbers.
    """
    import statistics
    import time

    from shopintent.privacy import Pseudonymizer
    from shopintent.store import EventStore
    from shopintent.store.ingest import ingest_events

    pseudonymizer = Pseudonymizer.from_settings(settings)
    out = []
    with EventStore(work / "groups.duckdb") as store:
        for size, groups in ((1, 200), (50, 40)):
            times = []
            for g in range(groups):
                batch = [dict(r, event_id=f"g{size}-{g}-{j}")
                         for j, r in enumerate(records[g * size:(g + 1) * size])]
                started = time.perf_counter()
                ingest_events(store, batch, pseudonymizer)
                times.append((time.perf_counter() - started) * 1000)
            out.append(Measurement(
                f"ingest path, one write group of {size} event{'s' if size > 1 else ''} (median)",
                statistics.median(times), "ms",
                f"{groups} groups of real Taobao events: validate, protect, DuckDB append; no HTTP"))
    return out


def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("pandas", "duckdb", "pyarrow", "fastapi", "uvicorn")}


def _start_service(settings: Settings, work: Path) -> tuple[ServiceProcess, Measurement]:
    """The service under load, started until every model is loaded; its start time."""
    service = ServiceProcess(settings, work / "bench.duckdb", API_KEY,
                             ["--auto-decide", "cart", "--no-train-missing"], log_path=work / "svc.log")
    start_s = service.start("/readyz", wait_models=ALL_MODELS)
    return service, Measurement("service start to ready (cached models)", start_s, "s",
                                "until /readyz lists text, behaviour, recommend, intervene loaded")


def _ingest_runs(service: ServiceProcess, records: list[dict[str, object]]) -> list[Measurement]:
    """Events per second over HTTP: batches of :data:`BATCH`, then one event per request."""
    events = numbered_events(records, "b")
    bodies = [{"events": events[i : i + BATCH]} for i in range(0, len(events), BATCH)]
    sizes = [len(b["events"]) for b in bodies]
    batched = closed_loop(service.url + "/v1/events", bodies, API_KEY, 4, sizes)
    s = batched.summary()
    out = [Measurement(
        "HTTP ingest, batched", batched.events_per_s, "events/s",
        f"Taobao {len(events):,} events, {BATCH}/request, 4 in flight, state + cart decisions; "
        f"request p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, errors {s['errors']}")]
    singles = numbered_events(records[:3000], "s")
    single = closed_loop(service.url + "/v1/events", singles, API_KEY, 16, [1] * len(singles))
    s = single.summary()
    out.append(Measurement(
        "HTTP ingest, one event per request", single.events_per_s, "events/s",
        f"3,000 requests, 16 in flight; p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, "
        f"errors {s['errors']}"))
    return out


def _intent_runs(settings: Settings, service: ServiceProcess) -> list[Measurement]:
    """``POST /v1/intent`` throughput and latency on shop-intent test-split texts."""
    texts = [{"text": t} for t in _texts(settings, 2000)]
    intent = closed_loop(service.url + "/v1/intent", texts, API_KEY, 16, [1] * len(texts))
    s = intent.summary()
    return [
        Measurement("/v1/intent throughput", intent.requests_per_s, "requests/s",
                    f"2,000 Bitext test-split texts, 16 in flight, errors {s['errors']}"),
        Measurement("/v1/intent latency p50", s["p50_ms"], "ms", "same run"),
        Measurement("/v1/intent latency p99", s["p99_ms"], "ms", "same run"),
    ]


def _kill9_runs(settings: Settings, work: Path, records: list[dict[str, object]]) -> list[Measurement]:
    """What kill -9 mid-stream loses or duplicates, and how long the restart takes."""
    fault = kill9_run(settings, numbered_events(records[:20_000], "k"), work, API_KEY,
                      kill_after_acks=5_000, batch_size=50)
    detail = (f"20,000 events in batches of 50; killed after {fault.acknowledged:,} acknowledged; "
              f"after restart all 20,000 re-sent: {fault.duplicates_on_resend:,} answered duplicate, "
              f"{fault.stored_after_restart:,} stored in total")
    return [
        Measurement("kill -9: acknowledged events lost", fault.lost_acknowledged, "events", detail),
        Measurement("kill -9: events stored more than once",
                    fault.stored_after_restart - fault.unique_events, "events", detail),
        Measurement("kill -9: restart to healthy", fault.restart_seconds, "s", "store re-opened (WAL replay)"),
    ]


def run(settings: Settings) -> BenchResult:
    """Measure the service end to end over loopback HTTP."""
    _prepare_models(settings)
    records = taobao_stream(settings)
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        service, started = _start_service(settings, work)
        measurements.append(started)
        try:
            measurements += _ingest_runs(service, records)
            measurements += _intent_runs(settings, service)
        finally:
            service.stop()
        measurements += _decision_runs(settings, work, records, DECISION_RATES, history=True)
        measurements += _decision_runs(settings, work, records, DECISION_RATES[:1], history=False)
        measurements += _write_group_cost(settings, work, records)
        measurements += _kill9_runs(settings, work, records)
    return BenchResult(
        area="serve",
        measurements=measurements,
        data={taobao.FILE: taobao.SPEC.files[0].sha256},
        parameters={"batch_size": BATCH, "events": len(records),
                    "decision_rates": list(DECISION_RATES), "decision_seconds": DECISION_SECONDS,
                    "workers": 1, "client": "httpx async, same machine",
                    "libraries": _library_versions()},
        notes="Loopback HTTP on the machine named above; the load generator shares its CPUs. "
              "Models: default behaviour (Taobao), decision engine prior policy, shop-intent classifier "
              "(Bitext + out-of-scope train split). No model metric is computed here (see the text, "
              "behaviour and intervene benchmarks).",
    )
