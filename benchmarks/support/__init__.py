"""The harness the serve benchmark and the service tests share.

- :mod:`.service_process` — ``shopintent serve`` as a real child process on a free loopback port;
- :mod:`.load` / :mod:`.load_process` — open- and closed-loop HTTP load from a process of its own
  (a minimal keep-alive client), with latencies and the keyed ids acknowledged;
- :mod:`.ladder` — event → decision latency over offered rates, the knee, the empty-endpoint overhead;
- :mod:`.kill9` — kill -9 of the service, a worker, the sink or the broker under load, re-send,
  count what was lost or stored twice in the store;
- :mod:`.redis_server` — a redis-server with AOF for the multi-worker runs;
- :mod:`.features` — which service features the checkout has (a missing one is named, not faked);
- :mod:`.tansu` — a Kafka-protocol broker (Tansu) on loopback.

Everything stays on loopback and every run is bounded in time.
"""

from benchmarks.support.kill9 import FaultReport, fault_run, kill9_run
from benchmarks.support.load import LoadResult, Request, closed_loop, numbered_events, open_loop, start_load
from benchmarks.support.service_process import ServiceProcess, free_port

__all__ = ["FaultReport", "LoadResult", "Request", "ServiceProcess", "closed_loop", "fault_run", "free_port",
           "kill9_run", "numbered_events", "open_loop", "start_load"]
