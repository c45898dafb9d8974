"""The harness the serve benchmark and the service tests share.

- :mod:`.service_process` — ``shopintent serve`` as a real child process on a free loopback port;
- :mod:`.load` — open- and closed-loop HTTP load with latencies (a minimal keep-alive client);
- :mod:`.kill9` — kill -9 mid-stream, restart, re-send, count what was lost or stored twice.

Everything stays on loopback and every run is bounded in time.
"""

from benchmarks.support.kill9 import FaultReport, kill9_run
from benchmarks.support.load import LoadResult, closed_loop, numbered_events, open_loop
from benchmarks.support.service_process import ServiceProcess, free_port

__all__ = ["FaultReport", "LoadResult", "ServiceProcess", "closed_loop", "free_port", "kill9_run",
           "numbered_events", "open_loop"]
