"""Start to ready of ``shopintent serve`` with cached models: wall seconds and the service's CPU seconds.

Why a script of its own: ``shopintent bench serve`` measures one start among
minutes of load runs; a change to start-up needs several starts, side by side
with the code before it, and on a machine shared with other work the wall time
is noise while the CPU seconds the service spent getting ready are not (much).
Each start is a real ``python -m shopintent.cli.main serve`` child process
(:class:`benchmarks.support.ServiceProcess`, as bench serve starts it) on a new
empty store, timed until ``/readyz`` lists text, behaviour, recommend and
intervene loaded; the 1-minute load average is recorded beside each start.

Run (the state folder holds what ``shopintent models prepare`` wrote)::

    SHOPINTENT_DATA_DIR=/work/shared/data SHOPINTENT_STATE_DIR=<state> \\
        .venv/bin/python -m benchmarks.serve_startup --label after --starts 5

``--label`` names the run in ``--out`` (runs of other labels are kept), so a
before/after pair sits side by side; run the "before" one with ``PYTHONPATH``
pointing at an older ``src`` tree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shopintent
from benchmarks.serve_profile import cpu_seconds
from benchmarks.support import ServiceProcess
from shopintent.settings import get_settings

API_KEY = "startup-key"
ALL_MODELS = ("text", "behaviour", "recommend", "intervene")


def measure(starts: int) -> dict[str, Any]:
    """``starts`` cold starts of the service: wall and CPU seconds to ready, load average at each."""
    settings = get_settings()
    wall: list[float] = []
    cpu: list[float] = []
    load: list[float] = []
    with tempfile.TemporaryDirectory(prefix="serve-startup-") as scratch:
        for i in range(starts):
            service = ServiceProcess(settings, Path(scratch) / f"start{i}.duckdb", API_KEY)
            load.append(round(os.getloadavg()[0], 2))
            try:
                wall.append(round(service.start("/readyz", timeout_s=300, wait_models=ALL_MODELS), 3))
                assert service.process is not None
                cpu.append(round(cpu_seconds(service.process.pid), 2))
            finally:
                service.stop()
            time.sleep(1.0)
    return {"start_to_ready_s": wall, "start_to_ready_cpu_s": cpu, "load_average_1m": load,
            "median_start_to_ready_s": round(statistics.median(wall), 3),
            "median_start_to_ready_cpu_s": round(statistics.median(cpu), 2),
            "code": str(Path(shopintent.__file__).parent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="Name of this run in the results file (before, after).")
    parser.add_argument("--starts", type=int, default=5, help="Cold starts to time.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_startup.json"))
    parser.add_argument("--note", default="", help="What this run measured (e.g. the commit).")
    args = parser.parse_args()
    run = measure(args.starts)
    run.update(at=datetime.now(UTC).isoformat(timespec="seconds"), note=args.note)
    record: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": {}}
    record["runs"][args.label] = run
    record["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                         "cpu_count": os.cpu_count()}
    record["protocol"] = (
        "`python -m benchmarks.serve_startup --label LABEL --starts N`: N cold starts of "
        "`shopintent serve` (own process, new empty store, cached default models), wall seconds "
        "until /readyz lists text, behaviour, recommend, intervene loaded, and the service "
        "process's CPU seconds at that moment; measured on a shared, busy machine (load average "
        "beside each start), so compare the CPU seconds and the medians.")
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(run, indent=1))


if __name__ == "__main__":
    main()
