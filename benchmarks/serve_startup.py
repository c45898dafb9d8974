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

``--steps N`` also runs the service's start-up steps N times, each in a fresh
Python process (cold imports), and records the CPU seconds of each step: the
imports of ``shopintent serve`` (CLI, uvicorn, the app with every router), building
the app and the ``Service``, ``Service.start`` (store, event log, restore) and each
model's load in the loader's order. That is where the start-to-ready seconds go.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Only the standard library at module level: ``--steps-child`` measures the service's own
# imports from a cold interpreter, so this module must not import them first (nor
# ``benchmarks.support``, whose package imports httpx and the service's settings: ~0.5 s of CPU
# that was counted as "python start" before).

API_KEY = "startup-key"
ALL_MODELS = ("text", "behaviour", "recommend", "intervene")


def measure(starts: int) -> dict[str, Any]:
    """``starts`` cold starts of the service: wall and CPU seconds to ready, load average at each."""
    import shopintent
    from benchmarks.serve_profile import cpu_seconds
    from benchmarks.support import ServiceProcess
    from shopintent.settings import get_settings

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


def _steps_child(store: str) -> None:
    """One cold start, step by step, in this fresh process: CPU seconds per step as JSON on stdout."""
    marks: list[tuple[str, float]] = [("python start (no shopintent yet)", time.process_time())]

    def mark(step: str) -> None:
        marks.append((step, time.process_time()))

    import shopintent.cli.main  # noqa: F401 - the import is what is measured
    mark("import shopintent.cli.main")
    import shopintent.cli.serve  # noqa: F401
    import uvicorn  # noqa: F401
    mark("import cli.serve + uvicorn")
    from shopintent.serve.app import create_app
    mark("import serve.app (every router, the service and its libraries)")
    from shopintent.serve.config import ServeConfig
    from shopintent.serve.service import LOAD_ORDER, Service
    from shopintent.settings import get_settings

    settings = get_settings()
    create_app(settings, ServeConfig(store_path=":memory:"))
    mark("create_app")
    service = Service(settings, ServeConfig(store_path=store))
    mark("Service()")
    service.start(load_models=False)
    mark("Service.start (store, event log, restore; no models)")
    for name in LOAD_ORDER:
        if not service.models[name].load():
            raise SystemExit(f"model {name} did not load: run `shopintent models prepare`")
        mark(f"load {name}")
    service.stop()
    steps = {marks[0][0]: round(marks[0][1], 3)}
    steps.update({step: round(cpu - marks[i][1], 3) for i, (step, cpu) in enumerate(marks[1:])})
    sys.stdout.write(json.dumps(steps) + "\n")


def measure_steps(runs: int) -> dict[str, Any]:
    """Median CPU seconds of each start-up step over ``runs`` fresh processes (cold imports)."""
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="serve-steps-") as scratch:
        for i in range(runs):
            done = subprocess.run([sys.executable, "-m", "benchmarks.serve_startup", "--steps-child",
                                   str(Path(scratch) / f"steps{i}.duckdb")],
                                  capture_output=True, text=True, check=True, timeout=600)
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    steps = {step: round(statistics.median(s[step] for s in samples), 3) for step in samples[0]}
    return {"median_cpu_s_by_step": steps, "median_cpu_s_total": round(sum(steps.values()), 3),
            "runs": runs}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--steps-child":
        _steps_child(sys.argv[2])
        return
    from benchmarks.support.labelled_runs import save_labelled_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="Name of this run in the results file (before, after).")
    parser.add_argument("--starts", type=int, default=5, help="Cold starts to time.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_startup.json"))
    parser.add_argument("--note", default="", help="What this run measured (e.g. the commit).")
    parser.add_argument("--steps", type=int, default=0,
                        help="Also time each start-up step in this many fresh processes (CPU seconds).")
    args = parser.parse_args()
    run = measure(args.starts) if args.starts > 0 else {}
    if args.steps > 0:
        run["steps"] = measure_steps(args.steps)
    run.update(at=datetime.now(UTC).isoformat(timespec="seconds"), note=args.note)
    save_labelled_run(args.out, args.label, run, protocol=(
        "`python -m benchmarks.serve_startup --label LABEL --starts N`: N cold starts of "
        "`shopintent serve` (own process, new empty store, cached default models), wall seconds "
        "until /readyz lists text, behaviour, recommend, intervene loaded, and the service "
        "process's CPU seconds at that moment; measured on a shared, busy machine (load average "
        "beside each start), so compare the CPU seconds and the medians. `--steps N`: each start-up "
        "step's CPU seconds (imports, app, Service, start, each model load in LOAD_ORDER), median "
        "of N fresh processes; the whole process's CPU, so a model's load includes its imports."))
    print(json.dumps(run, indent=1))


if __name__ == "__main__":
    main()
