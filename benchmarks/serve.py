"""Service benchmark: the issue-14 goals table in one run, side by side.

Protocol (loopback only; every load generator runs in a process of its own,
``python -m benchmarks.support.load_process``, pinned as :func:`cpu_split` says —
on a 2-CPU machine the service gets both CPUs and the load generator shares
CPU 1; the results' parameters name the split):

* start: ``shopintent serve`` until ``/readyz`` reports text, behaviour, recommend and
  intervene loaded, with the default models already cached in the state folder;
* batched ingest: the 84,439 in-window Taobao events (unique ids) in requests of 500
  events, 4 in flight; the service stores, updates session state and decides on
  cart/favourite events (``--auto-decide cart``); then 3,000 one-event requests, 16 in flight;
* intent: 2,000 ``POST /v1/intent`` (shop-intent test-split texts), 16 in flight;
* event → decision: the Taobao events in time order, one per request, open loop at
  250, 500, 750, 1,000, 1,500 and 2,000 events/s, 5 s each after 2 s of quiet, stopping
  above 1,000 at the first rate over the goal (:mod:`benchmarks.support.ladder`: the knee,
  and ``GET /healthz`` at 1,000/s on the same server for the overhead ratio); at 250/s
  again without shopper history, for comparison;
* write groups: ``prepare_records`` (the request path before the log) and
  ``ingest_events`` (with the DuckDB append the sink pays), 1 and 50 events, no HTTP;
* workers: the same at 1,000 events/s, batched ingest and intent with ``--workers 1`` and
  ``--workers 2`` (``--state redis --stream redis``; a redis-server with
  ``--appendonly yes --appendfsync everysec`` started here);
* kill -9 under load (:mod:`benchmarks.support.kill9`): the single-process service
  (20,000 events in batches of 50, killed after 5,000 acknowledged, restarted, all re-sent),
  then with ``--workers 2``: one HTTP worker, the sink, and the Redis broker; then the
  Kafka broker under ``--stream kafka`` (Tansu on S3 storage in moto's local server, so
  its topics outlive the crash);
* Kafka (:func:`benchmarks.support.kafka_path.measure`): events/s from the broker into
  the store, with consumer lag over time.

A measurement whose feature this checkout lacks raises
:class:`~benchmarks.support.features.FeatureMissing` naming it (``--allow-missing``
lists it in the parameters instead, for smoke runs). ``python -m benchmarks.serve
--quick`` runs every section with fewer events (1 s per rate) and writes where
``--out`` says, never over the committed results (an argument, not an environment
variable: :mod:`shopintent.settings` is the one reader of the environment); ``--only
SECTION`` runs one section.

This module and its harness (:mod:`benchmarks.support`) live in the source checkout,
not in the installed package: ``shopintent bench serve`` finds them there
(:mod:`shopintent.evaluation.benchmarks.serve`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.support import Request, ServiceProcess, closed_loop, numbered_events, start_load
from benchmarks.support import ladder as ladders
from benchmarks.support.features import FeatureMissing, require_option, require_sink
from benchmarks.support.kill9 import FaultReport, fault_run, kill9_run, process_roles
from benchmarks.support.load import cpu_split
from benchmarks.support.redis_server import RedisServer
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.log import get_logger
from shopintent.serve.replay import taobao_stream
from shopintent.settings import Settings

log = get_logger(__name__)

API_KEY = "bench-key"
BATCH = 500
ALL_MODELS = ("text", "behaviour", "recommend", "intervene", "risk")
#: Unlimited rate limits: the ladder sends more one-event writes per minute than the default limit.
NO_LIMITS = ("--read-limit", "", "--write-limit", "", "--anonymous-limit", "")
#: A loaded 2-CPU machine starting two workers that each load every model needs more than the default.
START_TIMEOUT_S = 300.0
SERVICE_FLAGS = ("--auto-decide", "cart", "--no-train-missing", *NO_LIMITS)


@dataclass(frozen=True)
class Plan:
    """How much each section sends: the full run, or the quick smoke run."""

    rates: tuple[float, ...] = (250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0)
    seconds_per_rate: float = 5.0
    batched_events: int | None = None  # None: every in-window event
    single_requests: int = 3000
    intent_requests: int = 2000
    kill_events: int = 20_000
    kill_after_acks: int = 5000
    kafka_live_seconds: float | None = None  # None: kafka_path's own live run length


FULL = Plan()
QUICK = Plan(rates=(250.0, 1000.0), seconds_per_rate=1.0, batched_events=5000, single_requests=300,
             intent_requests=300, kill_events=2000, kill_after_acks=500,
             kafka_live_seconds=2.0)


@dataclass
class Cores:
    """Which CPUs each side may use (recorded in the results)."""

    server: list[int]
    load: list[int]


def _prepare_models(settings: Settings) -> None:
    """Cache the default models (behaviour ~30 s, recommender ~1.5 min, shop intent ~1 min, risk a
    few seconds on first use), so no model trains while the service is measured and the service
    runs as `shopintent models prepare` leaves it (every stored event gets its risk verdict)."""
    from shopintent.behaviour import load_default_models
    from shopintent.recommend import load_default_recommender
    from shopintent.risk.default import load_default_risk
    from shopintent.text.defaults import ensure_model

    load_default_models(settings)
    load_default_recommender(settings)
    ensure_model(settings, "shop_intent", True)
    load_default_risk(settings)


def _texts(settings: Settings, n: int) -> list[str]:
    from shopintent.text import recipes

    texts = recipes.shop_intent_splits(settings)["test"].texts
    return [texts[i % len(texts)] for i in range(n)]


def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("pandas", "duckdb", "pyarrow", "fastapi", "uvicorn")}


def _default_stream() -> str:
    """The event log a plain ``shopintent serve`` uses (what the unsuffixed rows measure)."""
    from shopintent.serve.config import ServeConfig

    return str(ServeConfig.__dataclass_fields__["stream"].default)


def _service(settings: Settings, work: Path, name: str, cores: Cores, extra: tuple[str, ...] = ()
             ) -> ServiceProcess:
    return ServiceProcess(settings, work / f"{name}.duckdb", API_KEY, [*SERVICE_FLAGS, *extra],
                          log_path=work / f"{name}.log", cpus=cores.server)


def _started(service: ServiceProcess, suffix: str = "", workers: int = 1) -> Measurement:
    seconds = service.start("/readyz", wait_models=ALL_MODELS, timeout_s=START_TIMEOUT_S, consecutive=2 * workers)
    every = f"; {2 * workers} answers in a row ready (any of the {workers} workers may answer)" if workers > 1 else ""
    return Measurement(f"service start to ready (cached models){suffix}", seconds, "s",
                       f"until /readyz lists text, behaviour, recommend, intervene loaded{every}")


def _ingest_runs(service: ServiceProcess, records: list[dict[str, Any]], single_requests: int = 3000,
                 cpus: list[int] | None = None, suffix: str = "", prefix: str = "") -> list[Measurement]:
    """Events per second over HTTP: batches of :data:`BATCH`, then one event per request."""
    events = numbered_events(records, f"b{prefix}")
    bodies = [{"events": events[i : i + BATCH]} for i in range(0, len(events), BATCH)]
    sizes = [len(b["events"]) for b in bodies]
    batched = closed_loop(service.url + "/v1/events", bodies, API_KEY, 4, sizes, cpus=cpus)
    s = batched.summary()
    out = [Measurement(
        f"HTTP ingest, batched{suffix}", batched.events_per_s, "events/s",
        f"Taobao {len(events):,} events, {BATCH}/request, 4 in flight, state + cart decisions; "
        f"request p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, errors {s['errors']}")]
    singles = numbered_events(records[:single_requests], f"s{prefix}")
    single = closed_loop(service.url + "/v1/events", singles, API_KEY, 16, [1] * len(singles), cpus=cpus)
    s = single.summary()
    out.append(Measurement(
        f"HTTP ingest, one event per request{suffix}", single.events_per_s, "events/s",
        f"{len(singles):,} requests, 16 in flight; p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, "
        f"errors {s['errors']}"))
    return out


def _intent_runs(settings: Settings, service: ServiceProcess, n: int, cpus: list[int],
                 suffix: str = "", open_seconds: float = 5.0) -> list[Measurement]:
    """``POST /v1/intent`` throughput and latency on shop-intent test-split texts: closed loop
    (throughput), then ``open_seconds`` at the goal rate, open loop (latency at that rate)."""
    rate = ladders.GOAL_RATE
    # one read of the test split for both runs (the first n bodies are the closed loop's, as before)
    bodies = [{"text": t} for t in _texts(settings, max(n, int(rate * open_seconds)))]
    texts = bodies[:n]
    intent = closed_loop(service.url + "/v1/intent", texts, API_KEY, 16, [1] * len(texts), cpus=cpus)
    s = intent.summary()
    out = [
        Measurement(f"/v1/intent throughput{suffix}", intent.requests_per_s, "requests/s",
                    f"{n:,} shop-intent test-split texts, 16 in flight, errors {s['errors']}"),
        Measurement(f"/v1/intent latency p50{suffix}", s["p50_ms"], "ms", "same run"),
        Measurement(f"/v1/intent latency p99{suffix}", s["p99_ms"], "ms", "same run"),
    ]
    # The goal read as "at 1,000 requests/s, p99 ≤ 15 ms": latency at that offered rate, open loop
    # (the closed loop above keeps 16 requests queued, so its latency is 16 / throughput by design).
    requests = [Request("POST", "/v1/intent", body) for body in bodies[: int(rate * open_seconds)]]
    opened = start_load(service.url, requests, API_KEY, rate=rate, max_connections=ladders.MAX_CONNECTIONS,
                        warm_connections=ladders.WARM_CONNECTIONS, cpus=cpus).result()
    o = opened.summary()
    detail = (f"{o['requests']:,} shop-intent test-split texts offered at {rate:,.0f}/s, open loop "
              f"({ladders.WARM_CONNECTIONS} keep-alive connections opened before the clock, latency from "
              f"the scheduled send), achieved {o['requests_per_s']:,.0f}/s, errors {o['errors']}")
    return out + [
        Measurement(f"/v1/intent latency p50 at 1,000 requests/s (open loop){suffix}", o["p50_ms"], "ms", detail),
        Measurement(f"/v1/intent latency p99 at 1,000 requests/s (open loop){suffix}", o["p99_ms"], "ms", detail),
    ]


def _write_group_cost(settings: Settings, work: Path, records: list[dict[str, Any]]) -> list[Measurement]:
    """Milliseconds per write group of the shared ingest path (library calls, no HTTP).

    ``prepare_records`` (validate, keyed ids, protect) is what the request path pays before the
    log append; ``ingest_events`` adds the DuckDB append the sink pays. Measured here so a change
    of machine or of pandas/DuckDB shows up beside the HTTP numbers.
    """
    from shopintent.privacy import Pseudonymizer
    from shopintent.store import EventStore
    from shopintent.store.ingest import ingest_events, prepare_records

    pseudonymizer = Pseudonymizer.from_settings(settings)
    out = []

    def median_ms(groups: int, size: int, step: Callable[[list[dict[str, Any]]], object]) -> float:
        times = []
        for g in range(groups):
            batch = [dict(r, event_id=f"g{size}-{g}-{j}") for j, r in enumerate(records[g * size:(g + 1) * size])]
            started = time.perf_counter()
            step(batch)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    with EventStore(work / "groups.duckdb") as store:
        for size, groups in ((1, 200), (50, 40)):
            plural = "s" if size > 1 else ""
            out.append(Measurement(
                f"ingest path, one write group of {size} event{plural} (median)",
                median_ms(groups, size, lambda b: ingest_events(store, b, pseudonymizer)), "ms",
                f"{groups} groups of real Taobao events: validate, protect, DuckDB append; no HTTP"))
            out.append(Measurement(
                f"request path before the log, one group of {size} event{plural} (median)",
                median_ms(groups, size, lambda b: prepare_records(b, pseudonymizer)), "ms",
                f"{groups} groups of real Taobao events: prepare_records (validate, keyed ids, "
                "protect); no store, no HTTP"))
    return out


def _single_process(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                    cores: Cores) -> list[Measurement]:
    """The default service (one process, the default event log): start, ingest, intent."""
    service = _service(settings, work, "bench", cores)
    out = [_started(service)]
    try:
        batched = records if plan.batched_events is None else records[: plan.batched_events]
        out += _ingest_runs(service, batched, plan.single_requests, cores.load)
        out += _intent_runs(settings, service, plan.intent_requests, cores.load,
                            open_seconds=plan.seconds_per_rate)
    finally:
        service.stop()
    return out


def _decision_ladder(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                     cores: Cores) -> list[Measurement]:
    """The ladder on a fresh default service, the knee, and the empty endpoint at the goal rate."""
    service = _service(settings, work, "decide", cores)
    service.start("/readyz", wait_models=ALL_MODELS, timeout_s=START_TIMEOUT_S)
    try:
        rungs = ladders.climb(service, records, API_KEY, plan.rates, plan.seconds_per_rate, "d", cores.load)
        goal = next((r for r in rungs if r.rate == ladders.GOAL_RATE), None)
        out = ladders.rung_measurements(rungs) + [ladders.knee_measurement(rungs)]
        if goal is not None:
            empty = ladders.empty_endpoint(service, API_KEY, goal.rate, plan.seconds_per_rate, cores.load)
            out += ladders.overhead_measurements(goal, empty)
    finally:
        service.stop()
    # The cost of the shopper history, side by side on the same events at the lowest rate.
    service = _service(settings, work, "decide-nohistory", cores, ("--no-shopper-history",))
    service.start("/readyz", wait_models=ALL_MODELS, timeout_s=START_TIMEOUT_S)
    try:
        rungs = ladders.climb(service, records, API_KEY, plan.rates[:1], plan.seconds_per_rate, "n", cores.load)
    finally:
        service.stop()
    return out + ladders.rung_measurements(rungs, " (no shopper history, for comparison)")


def _redis_flags(redis: RedisServer, workers: int) -> tuple[str, ...]:
    return ("--workers", str(workers), "--state", "redis", "--stream", "redis", "--redis-url", redis.url)


def _require_workers(measurement: str) -> None:
    require_option("--workers", measurement)
    require_option("--stream", measurement, "redis")
    require_sink(measurement)


def _workers_runs(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan, cores: Cores,
                  workers: int) -> list[Measurement]:
    """Start, batched ingest, intent and the goal rate with ``--workers N`` on Redis."""
    suffix = f" (--workers {workers}, Redis)"
    _require_workers(f"the{suffix} runs")
    with RedisServer(work / f"redis-w{workers}", cpus=cores.server) as redis:
        service = _service(settings, work, f"workers{workers}", cores, _redis_flags(redis, workers))
        out = [_started(service, suffix, workers)]
        try:
            batched = records if plan.batched_events is None else records[: plan.batched_events]
            out += _ingest_runs(service, batched, plan.single_requests, cores.load, suffix, f"w{workers}")
            out += _intent_runs(settings, service, plan.intent_requests, cores.load, suffix,
                                open_seconds=plan.seconds_per_rate)
        finally:
            service.stop()
    # A fresh Redis: the sessions, histories and spent caps of the ingest run would change the decisions.
    with RedisServer(work / f"redis-decide-w{workers}", cpus=cores.server) as redis:
        service = _service(settings, work, f"decide-w{workers}", cores, _redis_flags(redis, workers))
        service.start("/readyz", wait_models=ALL_MODELS, timeout_s=START_TIMEOUT_S, consecutive=2 * workers)
        try:
            rungs = ladders.climb(service, records, API_KEY, (ladders.GOAL_RATE,), plan.seconds_per_rate,
                                  f"w{workers}d", cores.load)
            empty = ladders.empty_endpoint(service, API_KEY, ladders.GOAL_RATE, plan.seconds_per_rate,
                                           cores.load)
        finally:
            service.stop()
    return out + ladders.rung_measurements(rungs, suffix) + ladders.overhead_measurements(rungs[0], empty, suffix)


def _fault_measurements(what: str, fault: FaultReport, detail: str) -> list[Measurement]:
    """The two counts every kill -9 reports (names kept from the first fault benchmark)."""
    detail = (f"{detail}; killed after {fault.acked_before_kill:,} acknowledged; the client went on "
              f"(failed requests retried up to 30 s: {fault.failed_requests} failures), {fault.acknowledged:,} "
              f"acknowledged in all; then all {fault.unique_events:,} re-sent: {fault.duplicates_on_resend:,} "
              f"answered duplicate; counted in the DuckDB store by keyed id")
    return [Measurement(f"kill -9{what}: acknowledged events lost", fault.lost_acknowledged, "events", detail),
            Measurement(f"kill -9{what}: events stored more than once", fault.stored_twice, "events", detail)]


def _kill9_service(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                   cores: Cores) -> list[Measurement]:
    """kill -9 of the whole single-process service mid-stream, restart, re-send."""
    fault = kill9_run(settings, numbered_events(records[: plan.kill_events], "k"), work, API_KEY,
                      kill_after_acks=plan.kill_after_acks, batch_size=50, extra_args=NO_LIMITS, cpus=cores.server)
    detail = f"{plan.kill_events:,} events in batches of 50, the whole service (default event log) killed"
    return _fault_measurements("", fault, detail) + [
        Measurement("kill -9: restart to healthy", fault.restart_seconds, "s",
                    "store and event log re-opened, /healthz answers")]


#: How each part killed under ``--workers 2`` is named in the measurements.
PART_NAMES = {"worker": "a worker", "sink": "the sink", "Redis": "Redis"}


def _kill9_parts(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                 cores: Cores) -> list[Measurement]:
    """kill -9 of one HTTP worker, of the sink, and of Redis, each under load with ``--workers 2``."""
    _require_workers("kill -9 of a worker, the sink or Redis")
    out: list[Measurement] = []
    events = numbered_events(records[: plan.kill_events], "p")
    for part in ("worker", "sink", "Redis"):
        with RedisServer(work / f"redis-kill-{part}", cpus=cores.server) as redis:
            service = ServiceProcess(settings, work / f"kill-{part}.duckdb", API_KEY,
                                     ["--no-models", *NO_LIMITS, *_redis_flags(redis, 2)],
                                     log_path=work / f"kill-{part}.log", cpus=cores.server)
            service.start()
            fault = fault_run(service, [{**e, "event_id": f"{part}-{e['event_id']}"} for e in events], API_KEY,
                              kill_after_acks=plan.kill_after_acks, fault=_killer(part, service, redis))
        out += _fault_measurements(f" of {PART_NAMES[part]}", fault,
                                   f"--workers 2 --state redis --stream redis (AOF everysec); "
                                   f"{plan.kill_events:,} events in batches of 50")
    return out


def _killer(part: str, service: ServiceProcess, redis: RedisServer) -> Callable[[], ServiceProcess]:
    """What to kill -9 for ``part`` (and how it comes back); the service keeps running."""

    def kill() -> ServiceProcess:
        import os
        import signal

        if part == "Redis":
            redis.kill()
            time.sleep(1.0)  # the service sees the broker down under load
            redis.start()
            return service
        role = "worker" if part == "worker" else "sink"
        pids = process_roles(service)[role]
        if not pids:
            raise RuntimeError(f"no {role} process found under the service (pid {service.process.pid})")
        command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        log.info("kill -9 under load", part=role, pid=pids[0], command=command[:300])
        os.kill(pids[0], signal.SIGKILL)
        return service

    return kill


def _kafka_runs(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                cores: Cores) -> list[Measurement]:
    """Events/s through the Kafka broker into the store, with consumer lag over time."""
    require_option("--kafka-bootstrap", "the Kafka path (events/s broker → store)")
    from benchmarks.support.kafka_path import measure  # written beside the Kafka event log

    events = records if plan.batched_events is None else records[: plan.batched_events]
    if plan.kafka_live_seconds is None:
        return list(measure(settings, work, events, cpus=cores.server))
    return list(measure(settings, work, events, cpus=cores.server, live_seconds=plan.kafka_live_seconds))


def _kill9_kafka_broker(settings: Settings, work: Path, records: list[dict[str, Any]], plan: Plan,
                        cores: Cores) -> list[Measurement]:
    """kill -9 of the Kafka broker (Tansu on S3 storage, so topics outlive it) under load."""
    measurement = "kill -9 of the Kafka broker"
    require_option("--kafka-bootstrap", measurement)
    try:
        import moto.server  # noqa: F401 - the local S3 Tansu keeps its topics in
    except ModuleNotFoundError:
        raise FeatureMissing("moto[server] (the local S3 that keeps Tansu's topics across a crash; "
                             "pip install -e '.[test]')", measurement) from None
    from pydantic import SecretStr

    from benchmarks.support.s3 import LocalS3
    from benchmarks.support.tansu import TansuBroker

    # Reconnect within half a second of the restart (librdkafka backs off up to 10 s by default).
    kafka_settings = settings.model_copy(update={"kafka_config": SecretStr('{"reconnect.backoff.max.ms": 500}')})
    events = numbered_events(records[: plan.kill_events], "kb")
    with LocalS3() as s3:
        broker = TansuBroker(storage=s3.create_bucket("bench-tansu"), env=s3.env, log_path=work / "tansu.log")
        broker.start()
        try:
            service = ServiceProcess(kafka_settings, work / "kill-kafka.duckdb", API_KEY,
                                     ["--no-models", *NO_LIMITS, "--stream", "kafka", "--kafka-bootstrap",
                                      broker.bootstrap], log_path=work / "kill-kafka.log", cpus=cores.server)
            service.start()

            def crash() -> ServiceProcess:
                broker.kill()
                time.sleep(1.0)  # the service sees the broker down under load
                broker.start()
                return service

            fault = fault_run(service, events, API_KEY, kill_after_acks=plan.kill_after_acks, fault=crash)
        finally:
            broker.kill()
    return _fault_measurements(" of the Kafka broker", fault,
                               f"--stream kafka, Tansu on S3 storage (moto); {plan.kill_events:,} events in "
                               "batches of 50")


def _sections() -> list[tuple[str, Callable[..., list[Measurement]]]]:
    return [
        ("single process", _single_process),
        ("decision ladder", _decision_ladder),
        ("--workers 1", lambda *a: _workers_runs(*a, workers=1)),
        ("--workers 2", lambda *a: _workers_runs(*a, workers=2)),
        ("write groups", lambda s, w, r, p, c: _write_group_cost(s, w, r)),
        ("kill -9 of the service", _kill9_service),
        ("kill -9 of a worker, the sink, Redis", _kill9_parts),
        ("kill -9 of the Kafka broker", _kill9_kafka_broker),
        ("Kafka path", _kafka_runs),
    ]


def run(settings: Settings, quick: bool = False, allow_missing: bool = False,
        only: Sequence[str] = ()) -> BenchResult:
    """Measure the service end to end over loopback HTTP (``quick``: fewer events, 1 s per rate).

    A section whose feature is missing raises :class:`FeatureMissing`; with ``allow_missing`` it is
    listed under ``parameters["not_measured"]`` instead. ``only`` runs just the named sections
    (smoke runs of one part; a results file for BENCHMARKS.md comes from a run of all).
    """
    sections = _sections()
    unknown = set(only) - {name for name, _ in sections}
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; known: {[name for name, _ in sections]}")
    plan = QUICK if quick else FULL
    server, load = cpu_split()
    cores = Cores(server, load)
    _prepare_models(settings)
    records = taobao_stream(settings)
    measurements: list[Measurement] = []
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, section in sections:
            if only and name not in only:
                continue
            log.info("serve benchmark section", section=name, quick=quick)
            try:
                measured = section(settings, Path(tmp), records, plan, cores)
                # Logged as they come: a later section failing must not take these numbers with it.
                log.info("serve benchmark section measured", section=name,
                         measurements={m.name: round(m.value, 3) for m in measured})
                measurements += measured
            except FeatureMissing as exc:
                if not allow_missing:
                    raise
                missing[name] = str(exc)
                log.warning("serve benchmark section not measured", section=name, reason=str(exc))
    parameters: dict[str, Any] = {
        "batch_size": BATCH, "events": len(records), "decision_rates": list(plan.rates),
        "decision_seconds": plan.seconds_per_rate, "goal_p99_ms": ladders.GOAL_P99_MS,
        "default_stream": _default_stream(), "workers": [1, 2], "redis": "appendonly yes, appendfsync everysec",
        "server_cpus": cores.server, "load_cpus": cores.load,
        "client": "raw-socket keep-alive HTTP/1.1 on uvloop, its own process (benchmarks.support.load_process)",
        "plan": asdict(plan), "libraries": _library_versions()}
    if missing:
        parameters["not_measured"] = missing
    if only:
        parameters["sections"] = list(only)
    shared = set(cores.server) & set(cores.load)
    return BenchResult(
        area="serve",
        measurements=measurements,
        data={taobao.FILE: taobao.SPEC.files[0].sha256},
        parameters=parameters,
        notes=f"Loopback HTTP on the machine named above. Cores: the service side (HTTP workers, sink, Redis) "
              f"pinned to CPUs {cores.server}, the load generator (its own process) to CPUs {cores.load}"
              + (f" — it shares CPU {sorted(shared)} with the service, so its cost is in the service's numbers"
                 if shared else "") + ". Rows without a suffix are the default `shopintent serve` "
              "(one process, the default event log); '(--workers N, Redis)' rows run N HTTP workers and one "
              "sink on Redis Streams + Redis state. Models: default behaviour (Taobao), decision engine "
              "prior policy, shop-intent classifier. No model metric is computed here.",
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.serve [--quick] [--allow-missing] --out FILE``: a run written to FILE."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s per rate, fewer events (a smoke run).")
    parser.add_argument("--allow-missing", action="store_true",
                        help="list sections whose feature is missing instead of failing.")
    parser.add_argument("--only", action="append", default=[], metavar="SECTION",
                        help="run only this section (repeatable): " + "; ".join(n for n, _ in _sections()))
    parser.add_argument("--out", type=Path, required=True, help="where to write the result JSON.")
    args = parser.parse_args(argv)
    from shopintent.settings import get_settings

    from datetime import UTC, datetime

    from shopintent import __version__
    from shopintent.evaluation.bench import machine_info

    result = run(get_settings(), quick=args.quick, allow_missing=args.allow_missing, only=args.only)
    # The record `shopintent bench` writes, so render_markdown can show a smoke run too.
    record = {"area": result.area, "command": "python -m benchmarks.serve " + " ".join(argv or sys.argv[1:]),
              "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "shopintent_version": __version__,
              "machine": machine_info(), "data": result.data, "parameters": result.parameters,
              "measurements": [asdict(m) for m in result.measurements], "notes": result.notes}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
