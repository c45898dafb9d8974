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

``--bytecode cached`` (the default) runs every child with its compiled bytecode
cached, as an installed wheel has it (pip compiles ``.pyc`` files at install):
this checkout's environment sets ``PYTHONDONTWRITEBYTECODE=1`` (so does the
Makefile), which made each measured start compile shopintent's ~190 modules
from source, about 0.3 CPU seconds that no deployed service spends. The cache
lives in a temporary ``PYTHONPYCACHEPREFIX`` (nothing is written into the
tree) and is filled by one untimed warm-up start. ``--bytecode source`` measures
as the runs before it did.
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


def use_bytecode_cache(folder: Path) -> None:
    """Let the children this process starts cache their bytecode under ``folder`` (not in the tree)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)


def measure(starts: int, warm_up: bool = False) -> dict[str, Any]:
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
        if warm_up:  # untimed: fills the bytecode cache with everything a start imports
            service = ServiceProcess(settings, Path(scratch) / "warm-up.duckdb", API_KEY)
            try:
                service.start("/readyz", timeout_s=300, wait_models=ALL_MODELS)
            finally:
                service.stop()
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
    """One cold start, step by step, in this fresh process: CPU seconds per step as JSON on stdout.

    Each step's CPU is the whole process's (every thread) and, under ``"main thread"``, the
    main thread's alone: the start's critical path, since work a side thread does (the
    tokenizer's prefetch) overlaps it on a second core.
    """
    marks: list[tuple[str, float, float]] = [
        ("python start (no shopintent yet)", time.process_time(), time.thread_time())]
    import gc

    collections = {"count": [0, 0, 0], "cpu_s": [0.0, 0.0, 0.0]}
    began = [0.0]

    def count(phase: str, info: dict[str, int]) -> None:  # the cyclic collector's passes and CPU
        if phase == "start":
            began[0] = time.thread_time()
        else:
            collections["count"][info["generation"]] += 1
            collections["cpu_s"][info["generation"]] += time.thread_time() - began[0]

    gc.callbacks.append(count)

    def mark(step: str) -> None:
        marks.append((step, time.process_time(), time.thread_time()))

    import shopintent.cli.main  # noqa: F401 - the import is what is measured
    mark("import shopintent.cli.main")
    import shopintent.cli.serve  # noqa: F401
    # As `shopintent serve` does before importing the app (serve/startup.py). Looked up as a file:
    # on an older tree importing it would import the app (its package was not lazy yet) here.
    hold_collection = release_collection = None
    if (Path(shopintent.cli.main.__file__).parents[1] / "serve" / "startup.py").is_file():
        from shopintent.serve.startup import hold_collection, release_collection
    if hold_collection is not None:
        hold_collection()
    import uvicorn  # noqa: F401
    mark("import cli.serve + uvicorn")
    from shopintent.serve.app import create_app
    mark("import serve.app (every router, the service and its libraries)")
    try:
        from shopintent.serve.adapters.text import prefetch_intent_tokenizer
    except ImportError:  # code from before the prefetch (a "before" run on an older tree)
        prefetch_intent_tokenizer = None
    from shopintent.serve.config import ServeConfig
    from shopintent.serve.service import LOAD_ORDER, Service
    from shopintent.settings import get_settings

    settings = get_settings()
    create_app(settings, ServeConfig(store_path=":memory:"))
    mark("create_app")
    service = Service(settings, ServeConfig(store_path=store))
    mark("Service()")
    if prefetch_intent_tokenizer is not None:  # what Service.start(load_models=True) starts first
        prefetch_intent_tokenizer(settings)
    if release_collection is not None:
        # Without models Service.start releases the collector at once; a start with models keeps
        # it held until the loader's first pass, which the loads below stand in for.
        from unittest import mock

        with mock.patch("shopintent.serve.service.release_collection", lambda: False):
            service.start(load_models=False)
    else:
        service.start(load_models=False)
    mark("Service.start (store, event log, restore; no models)")
    for name in LOAD_ORDER:
        if not service.models[name].load():
            raise SystemExit(f"model {name} did not load: run `shopintent models prepare`")
        mark(f"load {name}")
    if release_collection is not None:  # what the loader does after its first pass (counted here)
        release_collection()
        mark("held collector released (one collection + freeze)")
    service.stop()
    steps = {marks[0][0]: round(marks[0][1], 3)}
    steps.update({step: round(cpu - marks[i][1], 3) for i, (step, cpu, _) in enumerate(marks[1:])})
    main = {marks[0][0]: round(marks[0][2], 3)}
    main.update({step: round(cpu - marks[i][2], 3) for i, (step, _, cpu) in enumerate(marks[1:])})
    gc.callbacks.remove(count)
    collections["cpu_s"] = [round(x, 3) for x in collections["cpu_s"]]
    sys.stdout.write(json.dumps({**steps, "main thread": main, "collector": collections}) + "\n")


def measure_steps(runs: int, warm_up: bool = False) -> dict[str, Any]:
    """Median CPU seconds of each start-up step over ``runs`` fresh processes (cold imports)."""
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="serve-steps-") as scratch:
        for i in range(-1 if warm_up else 0, runs):
            done = subprocess.run([sys.executable, "-m", "benchmarks.serve_startup", "--steps-child",
                                   str(Path(scratch) / f"steps{i}.duckdb")],
                                  capture_output=True, text=True, check=True, timeout=600)
            if i >= 0:  # -1: the untimed warm-up that fills the bytecode cache
                samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    extra = ("main thread", "collector")
    names = [step for step in samples[0] if step not in extra]
    names += [step for s in samples for step in s if step not in names and step not in extra]
    steps = {step: round(statistics.median(s.get(step, 0.0) for s in samples), 3) for step in names}
    main = {step: round(statistics.median(s["main thread"].get(step, 0.0) for s in samples), 3)
            for step in steps}
    return {"median_cpu_s_by_step": steps, "median_cpu_s_total": round(sum(steps.values()), 3),
            "median_main_thread_cpu_s_by_step": main,
            "median_main_thread_cpu_s_total": round(sum(main.values()), 3), "runs": runs,
            # the cyclic collector's passes per generation (0, 1, 2) and their CPU, per start
            "collector": [s["collector"] for s in samples if "collector" in s]}


#: What a library adds to a start when the ones before it are already imported: (label, already
#: imported, measured). The order is the service's: sklearn's cost is what the served estimators'
#: BaseEstimator base brings, LightGBM's what is left once sklearn and pandas are in.
IMPORT_STEPS = (
    ("numpy", (), ("numpy",)),
    ("pandas + pyarrow (after numpy)", ("numpy",), ("pandas", "pyarrow")),
    ("fastapi (after pandas)", ("numpy", "pandas"), ("fastapi",)),
    ("scipy.sparse (after pandas)", ("numpy", "pandas"), ("scipy.sparse",)),
    ("sklearn.base (after scipy.sparse)", ("numpy", "pandas", "scipy.sparse"), ("sklearn.base",)),
    ("lightgbm (after sklearn.base)", ("numpy", "pandas", "scipy.sparse", "sklearn.base"), ("lightgbm",)),
    ("lightgbm (after numpy only)", ("numpy",), ("lightgbm",)),
)


def _import_child(before: str, measured: str) -> None:
    """CPU seconds of importing ``measured`` (comma-separated) once ``before`` is imported."""
    import importlib

    for name in filter(None, before.split(",")):
        importlib.import_module(name)
    started = time.process_time()
    for name in measured.split(","):
        importlib.import_module(name)
    sys.stdout.write(json.dumps(round(time.process_time() - started, 4)) + "\n")


def measure_imports(runs: int) -> dict[str, Any]:
    """Median CPU seconds of each :data:`IMPORT_STEPS` entry over ``runs`` fresh processes."""
    out: dict[str, float] = {}
    for label, before, measured in IMPORT_STEPS:
        samples = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-m", "benchmarks.serve_startup", "--import-child",
                                   ",".join(before), ",".join(measured)],
                                  capture_output=True, text=True, check=True, timeout=300)
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
        out[label] = round(statistics.median(samples), 3)
    return {"median_cpu_s": out, "runs": runs}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--steps-child":
        _steps_child(sys.argv[2])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--import-child":
        _import_child(sys.argv[2], sys.argv[3])
        return
    from benchmarks.support.labelled_runs import save_labelled_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="Name of this run in the results file (before, after).")
    parser.add_argument("--starts", type=int, default=5, help="Cold starts to time.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_startup.json"))
    parser.add_argument("--note", default="", help="What this run measured (e.g. the commit).")
    parser.add_argument("--steps", type=int, default=0,
                        help="Also time each start-up step in this many fresh processes (CPU seconds).")
    parser.add_argument("--bytecode", choices=("cached", "source"), default="cached",
                        help="cached: children reuse compiled bytecode as an installed wheel does "
                        "(a temporary PYTHONPYCACHEPREFIX, filled by an untimed warm-up); source: "
                        "as this environment runs them (PYTHONDONTWRITEBYTECODE), compiled every start.")
    parser.add_argument("--imports", type=int, default=0,
                        help="Also time what each heavy library adds to a start (IMPORT_STEPS), "
                        "median of this many fresh processes (CPU seconds).")
    args = parser.parse_args()
    cached = args.bytecode == "cached"
    with tempfile.TemporaryDirectory(prefix="serve-startup-pycache-") as pycache:
        if cached:
            use_bytecode_cache(Path(pycache))
        run = measure(args.starts, warm_up=cached) if args.starts > 0 else {}
        if args.steps > 0:
            run["steps"] = measure_steps(args.steps, warm_up=cached)
        if args.imports > 0:
            run["imports"] = measure_imports(args.imports)
    run.update(at=datetime.now(UTC).isoformat(timespec="seconds"), note=args.note, bytecode=args.bytecode)
    save_labelled_run(args.out, args.label, run, protocol=(
        "`python -m benchmarks.serve_startup --label LABEL --starts N`: N cold starts of "
        "`shopintent serve` (own process, new empty store, cached default models), wall seconds "
        "until /readyz lists text, behaviour, recommend, intervene loaded, and the service "
        "process's CPU seconds at that moment; measured on a shared, busy machine (load average "
        "beside each start), so compare the CPU seconds and the medians. `--steps N`: each start-up "
        "step's CPU seconds (imports, app, Service, start, each model load in LOAD_ORDER), median "
        "of N fresh processes; the whole process's CPU, so a model's load includes its imports; "
        "`median_main_thread_cpu_s_by_step`: the main thread's alone (the critical path; from "
        "runs that have it); `collector`: per start, the cyclic collector's passes per generation "
        "and their CPU seconds on the main thread (to the end of the steps, the held collector's one "
        "release included). `--imports N`: CPU seconds a library adds once the ones named before it "
        "are imported (IMPORT_STEPS), median of N fresh processes. "
        "`bytecode`: `cached` (children reuse compiled bytecode, as an installed wheel does; one "
        "untimed warm-up start fills the cache) or `source` (compiled at every start, as runs "
        "without the field were)."))
    print(json.dumps(run, indent=1))


if __name__ == "__main__":
    main()
