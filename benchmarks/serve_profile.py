"""Where a request's CPU goes: CPU ms per request and start-to-ready seconds of ``shopintent serve``.

Wall-clock throughput on a machine shared with other work is noise; the CPU
time the service process spends per request is not (much). This script starts
a real ``shopintent serve`` (its own process, cached default models in the
state folder), loads it from this process with :mod:`benchmarks.support.load`
and reads the service's CPU time (all its threads, from ``/proc``) before and
after each run:

* ``/healthz`` (GET, the empty FastAPI endpoint of the same server), closed loop;
* ``POST /v1/intent`` with Bitext test-split texts, closed loop, 16 in flight;
* ``POST /v1/events`` one event per request (``--events N``: the first N in-window
  Taobao events in time order, fresh ids), closed loop, 16 in flight, automatic cart
  decisions: CPU ms per event on the event loop and on the other threads (log writer,
  effects, store sink) that compete with it for the GIL;
* start to ready: ``shopintent serve`` until ``/readyz`` lists every model loaded.

``--steps`` also times, in this process, the three steps the fourth round cut (the writer's
``validate_rows``, ``DecisionContext.as_dict``, the sink's append), the new way and the way
before, on one 500-event write group, and whether both ways answer alike (``step_check``).

``--profile DIR`` also runs the service under ``cProfile`` on every thread, timing
each thread's CPU, and writes ``DIR/serve.prof`` (all threads merged) plus the top
functions by own time per thread (``DIR/serve_top.txt``).

Run::

    SHOPINTENT_DATA_DIR=/work/shared/data SHOPINTENT_STATE_DIR=<state with prepared models> \\
        .venv/bin/python -m benchmarks.serve_profile --label after --out benchmarks/results/serve_profile.json

Each ``--label`` is merged into the results file beside the labels already there,
so a before/after pair sits side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support import ServiceProcess, closed_loop, numbered_events
from benchmarks.support.load import LoadResult, _Connection, quiet_client_logs
from shopintent.settings import Settings, get_settings

API_KEY = "profile-key"
ALL_MODELS = ("text", "behaviour", "recommend", "intervene")
#: Unlimited rate limits: the runs send more requests per minute than the default read limit.
NO_LIMITS = ["--read-limit", "", "--write-limit", "", "--anonymous-limit", ""]


def _stat_cpu(path: Path) -> float:
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (every thread), from ``/proc/PID/stat``."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of process ``pid``'s main thread (uvicorn's event loop) and of all its other
    threads (batcher, writer, loader, runtime pools: Python does not name them for the kernel)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "event loop" if task.name == str(pid) else "other threads"
            out[name] = out.get(name, 0.0) + _stat_cpu(task / "stat")
        except OSError:  # a thread that ended while we read
            continue
    return out


async def _get_loop(host: str, port: int, path: str, n: int, concurrency: int) -> LoadResult:
    """``n`` GETs of ``path`` over ``concurrency`` keep-alive connections (the empty endpoint)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")
    latencies: list[float] = []
    errors = 0
    left = n

    async def worker() -> None:
        nonlocal left, errors
        connection = await _Connection.open(host, port)
        try:
            while left > 0:
                left -= 1
                started = time.perf_counter()
                status, _ = await connection.post(request)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status != 200
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(n, n, time.perf_counter() - started, errors, latencies)


def _texts(settings: Settings, n: int) -> list[str]:
    from shopintent.text import recipes

    texts = recipes.shop_intent_splits(settings)["test"].texts
    return [texts[i % len(texts)] for i in range(n)]


def _events(settings: Settings, n: int, prefix: str) -> list[dict[str, Any]]:
    from shopintent.serve.replay import taobao_stream

    return numbered_events(taobao_stream(settings, limit=n), prefix)


def sink_round_cpu(settings: Settings, rows: int = 300, repeats: int = 20) -> dict[str, Any]:
    """CPU ms of the store sink's check of one round of ``rows`` log rows, both ways, in this process.

    The rows are the first in-window Taobao events as the event log holds them
    (``prepare_records`` output, through JSON). ``as_rows``: ``prepare_protected`` on
    the dicts (the row-wise path, what the sink passes now); ``as_frame``: on a frame
    of them (the table path, what it passed before). ``same_table``: both gave the same
    rows, ids and rejections. Thread CPU time, median of ``repeats``.
    """
    import statistics

    import pandas as pd

    from shopintent.privacy import Pseudonymizer
    from shopintent.schema.validation import EVENT_COLUMNS
    from shopintent.serve.replay import taobao_stream
    from shopintent.store import ingest

    pseudonymizer = Pseudonymizer.from_settings(settings)
    logged = json.loads(json.dumps(ingest.prepare_records(taobao_stream(settings, limit=rows),
                                                          pseudonymizer).records, default=str))

    def outcome(prepared: Any) -> str:
        frame = prepared.protected
        return json.dumps([frame.astype(object).where(frame.notna(), None).to_dict("records"),
                           prepared.positions.tolist(), prepared.event_ids,
                           [str(r) for r in prepared.report.rejections]], default=str)

    out: dict[str, Any] = {"rows": rows, "repeats": repeats}
    outcomes = {}
    for name, batch in (("as_rows", lambda: logged),
                        ("as_frame", lambda: pd.DataFrame.from_records(logged, columns=list(EVENT_COLUMNS)))):
        times = []
        for _ in range(repeats):
            given = batch()
            started = time.thread_time()
            prepared = ingest.prepare_protected(given)
            times.append((time.thread_time() - started) * 1000)
        outcomes[name] = outcome(prepared)
        out[f"{name}_cpu_ms"] = round(statistics.median(times), 3)
    out["same_table"] = outcomes["as_rows"] == outcomes["as_frame"]
    return out


def step_cpu(settings: Settings, rows: int = 500, repeats: int = 20) -> dict[str, Any]:
    """CPU ms of the three event-path steps cut in the fourth round, old and new way, in this process.

    On one write group of ``rows`` in-window Taobao events (as the service's writer gets
    them): ``validate_rows`` with its plain lane and with the lane off (the general loop,
    as before); ``DecisionContext.as_dict`` of ``rows`` contexts and the ``dataclasses.asdict``
    it replaced; the store sink's append of the group's records into a fresh in-memory store
    through ``records_table``/``append_table`` and through ``own_records_frame``/``append``
    (before). Thread CPU time, median of ``repeats``; ``same``: both ways gave the same answer
    (valid rows and rejections; dicts; stored rows).
    """
    import dataclasses
    import random
    import statistics
    from unittest import mock

    from shopintent.intervene.context import DecisionContext
    from shopintent.privacy import Pseudonymizer
    from shopintent.schema import validation
    from shopintent.serve.replay import taobao_stream
    from shopintent.store import ingest
    from shopintent.store.event_store import EventStore, records_table

    group = list(taobao_stream(settings, limit=rows))
    skew = settings.max_future_skew_s
    pseudonymizer = Pseudonymizer.from_settings(settings)
    records = ingest.prepare_records(group, pseudonymizer, max_future_skew_s=None).records
    rng = random.Random(0)
    contexts = [DecisionContext(user_id=str(e["user_id"]), session_id=f"{e['user_id']}-s",
                                purchase_probability=rng.random(), abandonment_risk=rng.random(),
                                cart_value=rng.random() * 100, intent=None, risk_score=rng.random(),
                                timestamp=datetime.fromisoformat(e["timestamp"]))
                for e in group]

    def timed(step: Any) -> tuple[float, Any]:
        times, answer = [], None
        for _ in range(repeats):
            started = time.thread_time()
            answer = step()
            times.append((time.thread_time() - started) * 1000)
        return round(statistics.median(times), 3), answer

    def validated() -> Any:
        checked = validation.validate_rows(group, max_future_skew_s=skew)
        return checked.valid, checked.positions, checked.rejections

    def general() -> Any:
        with mock.patch.object(validation._PlainLane, "row", lambda self, row: None):
            return validated()

    def reference_dicts() -> list[dict[str, Any]]:
        out = []
        for c in contexts:
            d = dataclasses.asdict(c)
            d["timestamp"] = c.timestamp.isoformat() if c.timestamp else None
            out.append(d)
        return out

    def sink(append: Any) -> tuple[float, Any]:
        """Median CPU ms of ``append`` into a fresh store (only the append is timed)."""
        times, rows_stored = [], None
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as folder:
                store = EventStore(Path(folder) / "events.duckdb", key_id=pseudonymizer.key_id)
                started = time.thread_time()
                append(store)
                times.append((time.thread_time() - started) * 1000)
                rows_stored = store.events().to_json()
                store.close()
        return round(statistics.median(times), 3), rows_stored

    out: dict[str, Any] = {"rows": rows, "repeats": repeats}
    steps = {
        "validate_rows": (lambda: timed(validated), lambda: timed(general)),
        "context_as_dict": (lambda: timed(lambda: [c.as_dict() for c in contexts]),
                            lambda: timed(reference_dicts)),
        "sink_append": (lambda: sink(lambda s: s.append_table(records_table(records))),
                        lambda: sink(lambda s: s.append(ingest.own_records_frame(records)))),
    }
    for name, (new, old) in steps.items():
        new_ms, new_answer = new()
        old_ms, old_answer = old()
        out[name] = {"new_cpu_ms": new_ms, "before_cpu_ms": old_ms, "same": new_answer == old_answer}
    return out


def wait_stored(url: str, timeout_s: float = 120.0) -> float:
    """Wait until the store sink has stored everything in the event log (``/readyz`` says no
    message is pending); returns the seconds waited.

    The sink stores behind the answers, so a run measured only until its last answer would
    leave out part of the CPU its events cost; polled every 0.1 s (one ``/readyz`` a poll).
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = httpx.get(url + "/readyz", timeout=5.0).json()
        if body.get("log_pending") == 0:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError(f"the store sink still had messages pending after {timeout_s} s")


def _data_digests() -> dict[str, str]:
    """sha256 of the data the runs read: the Taobao log head (events) and Bitext (intent texts;
    the events-only runs read none of it). No model is trained here and nothing is sampled at
    random: the events are the log's first in-window ones in time order, the texts the test split."""
    from shopintent.datasets import bitext_customer_service as bitext
    from shopintent.datasets import taobao_userbehavior_head as taobao

    digests = {taobao.FILE: taobao.SPEC.files[0].sha256}
    digests.update({f.path: f.sha256 for f in bitext.SPEC.files})
    return digests


def _measured(pid: int, run: Any) -> tuple[LoadResult, float, dict[str, float]]:
    before, threads_before = cpu_seconds(pid), thread_cpu(pid)
    result = run()
    after, threads_after = cpu_seconds(pid), thread_cpu(pid)
    per_thread = {name: seconds - threads_before.get(name, 0.0) for name, seconds in threads_after.items()}
    return result, after - before, per_thread


def _row(result: LoadResult, cpu_s: float, per_thread: dict[str, float]) -> dict[str, Any]:
    s = result.summary()
    busy = {name: round(seconds * 1000 / result.requests, 3)
            for name, seconds in sorted(per_thread.items(), key=lambda kv: -kv[1]) if seconds > 0}
    return {"requests": result.requests, "errors": result.errors,
            "cpu_ms_per_request": round(cpu_s * 1000 / result.requests, 3),
            "cpu_ms_per_request_by_thread": busy,
            "requests_per_s": s["requests_per_s"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]}


def _start(settings: Settings, work: Path, profile: Path | None) -> ServiceProcess:
    service = ServiceProcess(settings, work / "profile.duckdb", API_KEY,
                             ["--auto-decide", "cart", "--no-train-missing", *NO_LIMITS],
                             log_path=work / "svc.log")
    if profile is None:
        service.start("/readyz", timeout_s=600, wait_models=ALL_MODELS)
        return service
    # The same command under cProfile; stopped with SIGINT so the profile is written.
    command = [sys.executable, "-m", "benchmarks.serve_profile", "--serve-profiled",
               str(profile / "serve.prof"), "--", "serve", "--host", "127.0.0.1", "--port",
               str(service.port), "--store", str(service.store), *service.extra_args]
    service.process = subprocess.Popen(command, env=service._env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(service.url + "/readyz", timeout=1.0).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    service.kill()
    raise RuntimeError("the profiled service did not become ready in 600 s")


def measure(settings: Settings, n: int, starts: int, profile: Path | None, events: int = 0,
            intent: bool = True, batched: int = 0, batch_size: int = 1000) -> dict[str, Any]:
    """Start-to-ready seconds (``starts`` times) and CPU per request of /healthz, /v1/intent
    (unless ``intent`` is false), one-event ``POST /v1/events`` (``events`` requests) and
    ``batched`` events posted ``batch_size`` per request (the events after the single ones)."""
    quiet_client_logs()
    bodies = [{"text": t} for t in _texts(settings, n)] if intent else []
    singles = _events(settings, 200 + events + batched, "pe") if events or batched else []
    batches = [{"events": singles[i:i + batch_size]}
               for i in range(200 + events, 200 + events + batched, batch_size)]
    out: dict[str, Any] = {"start_to_ready_s": [], "start_to_ready_cpu_s": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(starts):
            service = ServiceProcess(settings, work / "start.duckdb", API_KEY,
                                     ["--auto-decide", "cart", "--no-train-missing"])
            out["start_to_ready_s"].append(round(service.start("/readyz", timeout_s=600, wait_models=ALL_MODELS), 2))
            assert service.process is not None
            # CPU the service spent getting ready: comparable on a busy machine, unlike wall time.
            out["start_to_ready_cpu_s"].append(round(cpu_seconds(service.process.pid), 2))
            service.stop()
        service = _start(settings, work, profile)
        try:
            assert service.process is not None
            pid = service.process.pid
            host, port = "127.0.0.1", service.port
            # Warm-up: first requests pay for lazy imports and caches.
            if intent:
                closed_loop(service.url + "/v1/intent", bodies[:200], API_KEY, 16, [1] * 200)
            if singles:
                closed_loop(service.url + "/v1/events", singles[:200], API_KEY, 16, [1] * 200)
            asyncio.run(_get_loop(host, port, "/healthz", 200, 16))
            empty, empty_cpu, empty_threads = _measured(pid, lambda: asyncio.run(_get_loop(host, port, "/healthz", n, 16)))
            if intent:
                asked, intent_cpu, intent_threads = _measured(
                    pid, lambda: closed_loop(service.url + "/v1/intent", bodies, API_KEY, 16, [1] * n))
            waits: dict[str, float] = {}

            def until_stored(name: str, result: LoadResult) -> LoadResult:
                waits[name] = round(wait_stored(service.url), 2)
                return result

            if singles:
                wait_stored(service.url)  # the warm-up's events stored before anything is measured
            if events:
                one, one_cpu, one_threads = _measured(
                    pid, lambda: until_stored("events", closed_loop(
                        service.url + "/v1/events", singles[200:200 + events], API_KEY, 16,
                        [1] * events)))
            if batches:
                many, many_cpu, many_threads = _measured(
                    pid, lambda: until_stored("batched", closed_loop(
                        service.url + "/v1/events", batches, API_KEY, 4,
                        [len(b["events"]) for b in batches])))
        finally:
            if profile is not None and service.process is not None:
                service.process.send_signal(signal.SIGINT)
                service.process.wait(timeout=60)
            else:
                service.stop()
    out["healthz"] = _row(empty, empty_cpu, empty_threads)
    if intent:
        out["intent"] = _row(asked, intent_cpu, intent_threads)
        out["intent_over_healthz_cpu"] = round(intent_cpu / max(empty_cpu, 1e-9), 2)
    if batches:
        row = _row(many, many_cpu, many_threads)
        n_events = sum(len(b["events"]) for b in batches)
        row.update({"batch_size": batch_size, "events": n_events,
                    "cpu_ms_per_event": round(many_cpu * 1000 / n_events, 4),
                    "cpu_ms_per_event_by_thread": {
                        name: round(seconds * 1000 / n_events, 4) for name, seconds in
                        sorted(many_threads.items(), key=lambda kv: -kv[1]) if seconds > 0},
                    "events_per_cpu_second": round(n_events / max(many_cpu, 1e-9)),
                    "events_per_s": round(n_events / max(many.seconds, 1e-9)),
                    "sink_wait_s": waits["batched"]})
        out["event_batched"] = row
    if events:
        # One event per request: CPU per request is CPU per event.
        out["event_one_per_request"] = {**_row(one, one_cpu, one_threads), "sink_wait_s": waits["events"]}
        out["event_over_healthz_cpu"] = round((one_cpu / events) / max(empty_cpu / n, 1e-9), 2)
        out["sink_round_check"] = sink_round_cpu(settings)
    if profile is not None:
        with (profile / "serve_top.txt").open("w") as f:
            for prof in sorted(profile.glob("serve.*.prof")):
                f.write(f"==== {prof.stem.split('.', 1)[1]} ====\n")
                pstats.Stats(str(prof), stream=f).sort_stats("tottime").print_stats(30)
    return out


def serve_profiled(out: Path, argv: list[str]) -> None:
    """Run ``shopintent <argv>`` with cProfile on every thread, each timing its own CPU time.

    The main thread is uvicorn's event loop: every request's HTTP, routing,
    validation and middleware work; the log writer, effects, store sink and batcher
    threads compete with it for the GIL. CPU time, so waits (for the GIL, for
    another thread, for the socket) are not counted as work. Writes ``out`` (all
    threads merged) and ``<out stem>.<thread name>.prof`` per thread.
    """
    import cProfile
    import runpy
    import threading

    profilers: dict[str, cProfile.Profile] = {}

    def start_thread_profile(*_: Any) -> None:  # the first profile event of a new thread
        thread = threading.current_thread()
        profiler = cProfile.Profile(time.thread_time)
        profilers[f"{thread.name}-{thread.native_id}"] = profiler
        profiler.enable()  # replaces this hook for the thread

    main_profiler = cProfile.Profile(time.thread_time)
    profilers["event-loop"] = main_profiler
    sys.argv = ["shopintent", *argv]
    threading.setprofile(start_thread_profile)
    main_profiler.enable()
    try:
        runpy.run_module("shopintent.cli.main", run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        main_profiler.disable()
        threading.setprofile(None)
        merged: pstats.Stats | None = None
        for name, profiler in list(profilers.items()):
            stats = pstats.Stats(profiler)
            if not stats.total_tt:
                continue
            stats.dump_stats(str(out.with_name(f"{out.stem}.{name}.prof")))
            merged = stats if merged is None else merged.add(stats)
        if merged is not None:
            merged.dump_stats(str(out))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-profiled":
        serve_profiled(Path(sys.argv[2]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="Name of this run in the results file (before, after).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_profile.json"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--events", type=int, default=0,
                        help="Also POST this many Taobao events one per request (0: skip).")
    parser.add_argument("--batched", type=int, default=0,
                        help="Also POST this many Taobao events in batches of --batch-size, 4 in flight (0: skip).")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-intent", action="store_true", help="Skip the /v1/intent run.")
    parser.add_argument("--profile", type=Path, default=None, help="Also write a cProfile of the service here.")
    parser.add_argument("--note", default="", help="What this run measured (e.g. the commit).")
    parser.add_argument("--steps", action="store_true",
                        help="Also time the fourth round's three steps old and new way in this process (step_check).")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    run = measure(settings, args.requests, args.starts, args.profile, args.events, not args.no_intent,
                  args.batched, args.batch_size)
    if args.steps:
        run["step_check"] = step_cpu(settings)
    run.update({"at": datetime.now(UTC).isoformat(timespec="seconds"), "note": args.note,
                "load_average_1m_before": round(os.getloadavg()[0], 2)})
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("runs", {})[args.label] = run
    results["protocol"] = (
        "python -m benchmarks.serve_profile: one `shopintent serve` process (uvicorn, 1 worker, cached "
        "default models) and the load generator in this process on the same machine; CPU ms per request "
        "= the service process's user+system CPU time over the run / requests. /healthz: GET, 16 "
        f"keep-alive connections; /v1/intent: {args.requests} Bitext test-split texts, 16 in flight; "
        "event_one_per_request: POST /v1/events with one Taobao event each (the first in-window events "
        "in time order after 200 warm-up ones, fresh ids, --auto-decide cart), 16 in flight, CPU ms per "
        "request = CPU ms per event; event_over_healthz_cpu: its CPU per request over /healthz's; "
        "event_batched (--batched N): the next N Taobao events POSTed --batch-size per request, 4 in "
        "flight, CPU ms per event and events per service CPU second (events_per_s: wall, until the "
        "last answer); runs whose event rows carry sink_wait_s measure the service's CPU until the "
        "store sink has stored every event of the run (/readyz log_pending 0, polled every 0.1 s; "
        "sink_wait_s: seconds after the last answer), so the sink's share is in the number (runs "
        "without it stopped at the last answer); "
        "sink_round_check: in this process, thread CPU ms (median of 20) of the store sink's check "
        "(store.ingest.prepare_protected) of one 300-row round of log rows, as dicts (row-wise path) "
        "and as a frame (table path), and whether both gave the same rows. "
        "step_check (--steps): in this process, thread CPU ms (median of 20) on one 500-event "
        "write group of the same Taobao events, new and before: validate_rows with its plain lane "
        "and with the lane off; DecisionContext.as_dict of 500 contexts and dataclasses.asdict; the "
        "sink's append into a fresh store via records_table/append_table and via "
        "own_records_frame/append; same: both gave the same answer. "
        "start_to_ready_s: `shopintent serve` until /readyz lists text, behaviour, recommend, intervene "
        "(wall); start_to_ready_cpu_s: the service process's CPU seconds at that moment.")
    results["data"] = _data_digests()
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "shared": "the 2 cores were shared with other engineers' work while this ran: "
                                    "latency and req/s are noisy; CPU ms per request is the comparable "
                                    "number"}
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(run, indent=2))  # noqa: T201 - a benchmark script's report


if __name__ == "__main__":
    main()
