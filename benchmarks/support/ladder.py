"""Event → decision latency over a ladder of offered rates, the knee, and the empty-endpoint overhead.

One service, one event per request, open loop (latency from the scheduled send),
rates climbing. The knee is the highest offered rate whose decision p99 is still
within the goal; above the goal rate the ladder stops at the first rate over it
(a saturated service only builds a queue, and every further rung costs minutes).
At the goal rate the same server is also loaded with ``GET /healthz`` (an empty
FastAPI endpoint) at the same rate, so the request's own cost can be told apart
from what any request costs on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.support.load import LoadResult, Request, numbered_events, start_load
from benchmarks.support.service_process import ServiceProcess
from shopintent.evaluation.bench import Measurement

#: The issue's goal: event in → decision out p99 at most this many ms.
GOAL_P99_MS = 20.0
#: The offered rate the goal is stated at (events/s).
GOAL_RATE = 1000.0
#: Seconds of quiet before each run, so one run's background work (effects, the sink) is not
#: measured as the next one's latency.
SETTLE_S = 2.0
#: Keep-alive connections the load generator opens before each run's clock starts (the pool a
#: shop's front end keeps to the API; see benchmarks.support.load_process). More are opened on
#: demand, up to MAX_CONNECTIONS, and those count in the latencies.
WARM_CONNECTIONS = 32
MAX_CONNECTIONS = 256


@dataclass
class Rung:
    """One offered rate and what it measured."""

    rate: float
    result: LoadResult
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def decision_p99(self) -> float:
        return float(self.summary["decision_p99_ms"])


def _rate(rate: float) -> str:
    return f"{rate:,.0f}"


def climb(service: ServiceProcess, records: Sequence[dict[str, Any]], api_key: str, rates: Sequence[float],
          seconds: float, prefix: str, cpus: Sequence[int] | None) -> list[Rung]:
    """Open-loop runs at each rate (fresh events each), stopping above the goal rate once over goal."""
    rungs: list[Rung] = []
    offset = 0
    for rate in sorted(rates):
        n = int(rate * seconds)
        if offset + n > len(records):
            raise ValueError(f"the ladder needs {offset + n:,} events at {_rate(rate)}/s; "
                             f"only {len(records):,} were given")
        events = numbered_events(records[offset : offset + n], f"{prefix}{int(rate)}")
        offset += n
        requests = [Request("POST", "/v1/events", e) for e in events]
        time.sleep(SETTLE_S)  # the previous rung's effects and sink work finish first
        result = start_load(service.url, requests, api_key, rate=rate, max_connections=MAX_CONNECTIONS,
                            warm_connections=WARM_CONNECTIONS, cpus=cpus).result()
        rungs.append(Rung(rate, result, result.summary()))
        if rate >= GOAL_RATE and not rungs[-1].decision_p99 <= GOAL_P99_MS:
            break
    return rungs


def knee(rungs: Sequence[Rung]) -> float:
    """The highest offered rate whose decision p99 is within :data:`GOAL_P99_MS` (0 when none is)."""
    within = [r.rate for r in rungs if r.decision_p99 <= GOAL_P99_MS]
    return max(within, default=0.0)


def rung_measurements(rungs: Sequence[Rung], suffix: str = "") -> list[Measurement]:
    """p50/p99 of responses carrying a decision and p99 of all responses, per rate."""
    out = []
    for rung in rungs:
        s = rung.summary
        detail = (f"{s['requests']:,} Taobao events in time order, one per request, offered at "
                  f"{_rate(rung.rate)}/s (open loop from its own process, {WARM_CONNECTIONS} keep-alive "
                  f"connections opened before the clock, up to {MAX_CONNECTIONS}, latency "
                  f"from the scheduled send), achieved {s['requests_per_s']:,.0f}/s; {s['with_decision']} "
                  f"responses carried a decision; errors {s['errors']}")
        out += [
            Measurement(f"event in → decision out p50 at {_rate(rung.rate)} events/s{suffix}",
                        s["decision_p50_ms"], "ms", detail),
            Measurement(f"event in → decision out p99 at {_rate(rung.rate)} events/s{suffix}",
                        s["decision_p99_ms"], "ms", detail),
            Measurement(f"event in → stored p99 at {_rate(rung.rate)} events/s (all events){suffix}",
                        s["p99_ms"], "ms", detail + "; 'stored' = acknowledged (committed to the event log)"),
        ]
    return out


def knee_measurement(rungs: Sequence[Rung], suffix: str = "") -> Measurement:
    """The knee as a measurement, naming the ladder it came from."""
    ladder = ", ".join(f"{_rate(r.rate)}: {r.decision_p99:g} ms" for r in rungs)
    return Measurement(f"event in → decision out knee (highest rate with p99 ≤ {GOAL_P99_MS:g} ms){suffix}",
                       knee(rungs), "events/s",
                       f"offered rates and their decision p99 — {ladder}; 0 means no rate met it")


def empty_endpoint(service: ServiceProcess, api_key: str, rate: float, seconds: float,
                   cpus: Sequence[int] | None) -> LoadResult:
    """``GET /healthz`` at ``rate`` on the same server, open loop, as the events were sent."""
    requests = [Request("GET", "/healthz", None, 0) for _ in range(int(rate * seconds))]
    time.sleep(SETTLE_S)  # not measured in the wake of the event run
    return start_load(service.url, requests, api_key, rate=rate, max_connections=MAX_CONNECTIONS,
                      warm_connections=WARM_CONNECTIONS, cpus=cpus).result()


def overhead_measurements(event: Rung, empty: LoadResult, suffix: str = "") -> list[Measurement]:
    """The empty endpoint's p50/p99 and the full event → decision request's ratio to them."""
    e = empty.summary()
    rate = _rate(event.rate)
    detail = (f"GET /healthz (an empty FastAPI endpoint) on the same server after the {rate} events/s "
              f"run and {SETTLE_S:g} s of quiet, same rate, open loop; achieved {e['requests_per_s']:,.0f}/s, "
              f"errors {e['errors']}")
    ratio = (f"event → decision request (responses carrying a decision) vs GET /healthz, both at "
             f"{rate}/s on the same server in the same run (goal ≤ 3×)")
    out = [Measurement(f"empty endpoint (GET /healthz) p50 at {rate} requests/s{suffix}", e["p50_ms"], "ms",
                       detail),
           Measurement(f"empty endpoint (GET /healthz) p99 at {rate} requests/s{suffix}", e["p99_ms"], "ms",
                       detail)]
    for q, key in ((50, "decision_p50_ms"), (99, "decision_p99_ms")):
        empty_ms = e[f"p{q}_ms"]
        value = event.summary[key] / empty_ms if empty_ms else float("nan")
        out.append(Measurement(f"overhead ratio p{q}: event → decision vs empty endpoint at {rate}/s{suffix}",
                               round(value, 2), "×", ratio))
    return out
