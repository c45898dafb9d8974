"""What the live effects of one event cost: CPU ms per event and Redis round trips per event.

The request path answers an event once it is in the log *and* its live effects
(session state, shopper history, risk verdict, scores, decision) are folded in;
those effects run on the gateway's effects thread, one write group at a time.
This script drives :meth:`shopintent.serve.service.Service._apply_effects`
directly, in this process, with real Taobao events (the replay's time order,
protected by the same :func:`~shopintent.store.ingest.prepare_records` as the
gateway) in write groups of ``--group`` events, and reports:

* CPU ms per event (``time.thread_time`` of the thread running the dedup claim
  and the effects calls, / events) and
  wall ms per event, with a per-step split (state, history, risk, decisions);
* with ``--state redis``: round trips to Redis per event, counted on the client
  (every ``send_packed_command`` is one request written and answered; a
  pipeline is one), against a real ``redis-server`` started here;
* digests of the outputs (each event's session and decisions per session, every
  context the engine decided on: scores, risk score, cart value; every risk
  verdict), so a before/after pair shows the outputs did not change (the
  engine's draw itself is random, so actions are not compared).

Run::

    SHOPINTENT_DATA_DIR=/work/shared/data SHOPINTENT_STATE_DIR=<state with prepared models> \\
        .venv/bin/python -m benchmarks.effects_profile --events 3000 --group 8 --state memory
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopintent.log import get_logger
from shopintent.settings import Settings, get_settings

log = get_logger(__name__)

PROTOCOL = ("python -m benchmarks.effects_profile: Service._apply_effects driven in this process (no HTTP) "
            "with the first N in-window Taobao UserBehavior events in time order, protected by "
            "store.ingest.prepare_records, in write groups of G events, each preceded by the gateway's "
            "dedup claim; cached default models (behaviour, intervene, risk), auto_decide cart, in-process "
            "or Redis state (a redis-server started by the script, AOF everysec). cpu_ms_per_event: "
            "time.thread_time of the thread running the claims and effects / events; "
            "redis_round_trips_per_event: requests written to Redis by the client (a pipeline or a script "
            "call is one) / events; *_sha256: digests of each event's session and decisions per session, "
            "every context the engine decided on, every session risk verdict with in-process state (equal "
            "digests: equal outputs)")


@contextmanager
def count_redis_round_trips() -> Iterator[dict[str, int]]:
    """Count client requests to Redis (one per command sent alone, one per pipeline)."""
    from redis.connection import Connection

    counts = {"round_trips": 0}
    original = Connection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        counts["round_trips"] += 1
        original(self, command, check_health)

    Connection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]


def _timed(service: Any, name: str, totals: dict[str, float]) -> None:
    """Wrap ``service.<name>`` so its CPU seconds add up in ``totals[name]``."""
    target, attr = (service, name) if "." not in name else (getattr(service, name.split(".")[0]),
                                                             name.split(".")[1])
    inner: Callable[..., Any] = getattr(target, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[name] += time.thread_time() - started

    setattr(target, attr, wrapper)


def run(settings: Settings, n_events: int, group: int, state: str, redis_url: str | None = None,
        auto_decide: str = "cart") -> dict[str, Any]:
    """Feed ``n_events`` real Taobao events through the live effects; timings and an output digest."""
    from shopintent.serve import ServeConfig
    from shopintent.serve.replay import taobao_stream
    from shopintent.serve.service import Service
    from shopintent.store.ingest import prepare_records

    config = ServeConfig(store_path=":memory:", stream="memory", state=state, redis_url=redis_url,
                         auto_decide=auto_decide, train_missing=False)
    service = Service(settings, config)
    service.start(load_models=False)
    try:
        for name in ("intervene", "risk", "behaviour"):  # what the effects use (not text, recommend)
            service.models[name].load()
        missing = [m for m in ("behaviour", "intervene", "risk") if not service.models[m].ready]
        if missing:
            raise RuntimeError(f"models not prepared in {settings.state_dir}: {missing} "
                               "(run `shopintent models prepare`)")
        records = taobao_stream(settings, n_events)
        prepared = prepare_records(records, service.pseudonymizer).records
        groups = [prepared[i:i + group] for i in range(0, len(prepared), group)]
        totals: dict[str, float] = defaultdict(float)
        for step in ("state.apply", "histories.observe", "risk.on_sessions", "_decide_many"):
            _timed(service, step, totals)
        outputs: list[Any] = []
        contexts: list[Any] = []  # what the engine decides on (its draw is random: actions are not compared)
        context_of = service._context

        def recorded_context(state: Any, score: dict[str, Any]) -> dict[str, Any]:
            context = context_of(state, score)
            contexts.append(sorted((k, str(v)) for k, v in context.items()))
            return context

        service._context = recorded_context  # type: ignore[method-assign]
        with count_redis_round_trips() as trips:
            cpu0, wall0, trips0 = time.thread_time(), time.perf_counter(), trips["round_trips"]
            after_cpu = 0.0  # work the gateway runs after the answers (deferred risk verdicts)
            for records_group in groups:
                # the gateway's dedup claim (Redis with --state redis), then the effects
                service.seen.claim([str(r["event_id"]) for r in records_group])
                effects = service._apply_effects(records_group, "bench")
                outputs.append([sorted(effects.session_of.items()),
                                sorted((s, len(ds)) for s, ds in effects.decisions_by_session.items())])
                after_answer = getattr(effects, "after_answer", None)  # absent in older trees
                if after_answer is not None:
                    started = time.thread_time()
                    after_answer()
                    after_cpu += time.thread_time() - started
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            round_trips = trips["round_trips"] - trips0
        verdicts = {sid: (v["score"], v["action"]) for sid, v in service.risk.sessions._memory.items()} \
            if state == "memory" else {}
        n = len(prepared)
        decisions = len(contexts)
        return {
            "events": n, "group": group, "state": state, "auto_decide": auto_decide,
            "decisions": decisions,
            "cpu_ms_per_event": round(1000 * cpu / n, 4),
            "cpu_ms_per_event_before_answer": round(1000 * (cpu - after_cpu) / n, 4),
            "wall_ms_per_event": round(1000 * wall / n, 4),
            "cpu_ms_per_event_by_step": {k: round(1000 * v / n, 4) for k, v in totals.items()},
            "redis_round_trips_per_event": round(round_trips / n, 3) if state == "redis" else None,
            "outputs_sha256": hashlib.sha256(json.dumps(outputs, default=str).encode()).hexdigest(),
            "contexts_sha256": hashlib.sha256(json.dumps(contexts).encode()).hexdigest(),
            "verdicts_sha256": hashlib.sha256(json.dumps(sorted(verdicts.items())).encode()).hexdigest(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=3000, help="real Taobao events to feed")
    parser.add_argument("--group", type=int, default=8, help="events per write group")
    parser.add_argument("--state", choices=("memory", "redis"), default="memory",
                        help="session state in process or in a real redis-server started here")
    parser.add_argument("--auto-decide", default="cart", help="the service's auto_decide mode")
    parser.add_argument("--label", default="run", help="name of this run in the output")
    parser.add_argument("--out", type=Path, default=None, help="merge the result into this JSON file")
    parser.add_argument("--note", default="", help="what was measured (commit, source tree)")
    args = parser.parse_args()
    settings = get_settings()
    if args.state == "redis":
        from benchmarks.support.redis_server import RedisServer

        with tempfile.TemporaryDirectory() as folder:
            server = RedisServer(Path(folder)).start()
            try:
                result = run(settings, args.events, args.group, "redis", server.url, args.auto_decide)
            finally:
                server.stop()
    else:
        result = run(settings, args.events, args.group, "memory", None, args.auto_decide)
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["note"] = args.note
    log.info("effects profile", label=args.label, **{k: v for k, v in result.items() if not isinstance(v, dict)})
    if args.out is not None:
        existing = json.loads(args.out.read_text()) if args.out.exists() else {}
        existing.setdefault("runs", {})[args.label] = result
        existing["protocol"] = PROTOCOL
        existing["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "note": "measured on a shared, busy machine (other engineers' work on the "
                                       "same 2 cores): CPU times are noisy, round trips and digests are not"}
        args.out.write_text(json.dumps(existing, indent=1) + "\n")
    os.write(1, (json.dumps({args.label: result}, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
