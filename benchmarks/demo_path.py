"""Time `make demo` on a fresh clone: each step, every model loaded, the background models, Ctrl-C.

    .venv/bin/python benchmarks/demo_path.py [--cap-s 3600] [--out benchmarks/results/demo_path.json]

Clones this repository's HEAD into a temporary folder with ``../shared`` linked
beside it (as a user's checkout would have it), runs ``make demo`` there on a
free port with an empty state folder, and polls ``/readyz`` every 0.5 s and
``shopintent models status`` every 15 s until every default model (the
background ones too) is present or ``--cap-s`` passes; then sends SIGINT to
make's process group, as Ctrl-C in a terminal would, and records how it exits.
Step durations are the ones ``shopintent models prepare`` recorded in the
clone's ``models-prepare.json``.

Not measured: the ``.venv`` install. The clone runs this checkout's virtual
environment (``make -o .venv/.installed-all BIN=…``) with the clone's ``src``
first on ``PYTHONPATH``, because installing the dependencies needs the network.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shopintent.log import configure_logging, get_logger

log = get_logger("benchmarks.demo_path")
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Timeline:
    """Seconds since ``make demo`` started, per observation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.events: list[dict[str, Any]] = []

    def now(self) -> float:
        return time.perf_counter() - self.start

    def note(self, what: str, **detail: Any) -> None:
        self.events.append({"t_s": round(self.now(), 1), "what": what, **detail})
        log.info(what, t_s=round(self.now(), 1), **detail)


def _status(clone: Path, env: dict[str, str]) -> dict[str, Any] | None:
    done = subprocess.run([sys.executable, "-m", "shopintent.cli.main", "models", "status", "--json"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def run(cap_s: float, workdir: Path) -> dict[str, Any]:
    """Clone, run ``make demo``, observe it until every model is present (or ``cap_s``), stop it."""
    clone = workdir / "shopintent"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    load_average = os.getloadavg()
    if (REPO.parent / "shared").exists():
        (workdir / "shared").symlink_to(REPO.parent / "shared")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPINTENT_")}
    env.update({"PYTHONPATH": str(clone / "src"), "SHOPINTENT_API_KEYS": "demo-path-benchmark-key"})
    make_log = workdir / "make-demo.log"
    timeline = Timeline()
    with open(make_log, "w") as out:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed-all", f"BIN={REPO / '.venv' / 'bin'}", f"DEMO_PORT={port}",
             "demo"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    markers = {"wrote .env": ".env written", "Preparing ": "shopintent demo done; models prepare started",
               "shopintent service on": "service process started"}
    seen: set[str] = set()
    ready: set[str] = set()
    states: dict[str, str] = {}
    text_version = None
    all_ready_s = None
    last_status = -1e9
    while timeline.now() < cap_s and make.poll() is None:
        logged = make_log.read_text(errors="replace")
        for marker, what in markers.items():
            if marker in logged and marker not in seen:
                seen.add(marker)
                timeline.note(what)
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            body = None
        if body is not None:
            for name, card in body.get("models", {}).items():
                if card.get("ready") and name not in ready:
                    ready.add(name)
                    timeline.note(f"model loaded: {name}", version=card.get("version"))
            version = (body.get("models", {}).get("text") or {}).get("version")
            if version and text_version and version != text_version:
                timeline.note("live text model changed", version=version)
            text_version = version or text_version
            if response.status_code == 200 and all_ready_s is None:
                all_ready_s = timeline.now()
                timeline.note("every model loaded (/readyz 200)")
        if all_ready_s is not None and timeline.now() - last_status >= 15:
            last_status = timeline.now()
            status = _status(clone, env)
            if status is not None:
                for model in status["models"]:
                    if states.get(model["name"]) != model["state"]:
                        states[model["name"]] = model["state"]
                        timeline.note(f"status: {model['name']} {model['state']}", score=model["score"])
                if status["background"] is None and all(
                        m["state"] in ("present", "built in") for m in status["models"]):
                    timeline.note("every default model present")
                    break
        time.sleep(0.5)
    stopping = time.perf_counter()
    os.killpg(make.pid, signal.SIGINT)
    try:
        returncode = make.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(make.pid, signal.SIGKILL)
        returncode = None
    stop_s = time.perf_counter() - stopping
    job = _status(clone, env)
    if job and job.get("background"):  # the detached job outlives Ctrl-C by design: end it here
        os.kill(int(job["background"]["pid"]), signal.SIGTERM)
    logged = make_log.read_text(errors="replace")
    state_dir = clone / ".shopintent"
    durations = json.loads((state_dir / "models-prepare.json").read_text())
    return {
        "command": "python benchmarks/demo_path.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load_average],
        "not_measured": "the .venv install (the clone runs this checkout's virtual environment)",
        "every_model_loaded_s": None if all_ready_s is None else round(all_ready_s, 1),
        "prepare_seconds": {name: d["seconds"] for name, d in durations.items()},
        "live_text_model": text_version,
        "ctrl_c": {"make_returncode": returncode, "seconds_to_exit": round(stop_s, 1),
                   "aborted": "terminate called" in logged, "traceback": "Traceback" in logged},
        "timeline": timeline.events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap-s", type=float, default=3600.0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "demo_path.json")
    args = parser.parse_args()
    configure_logging("INFO")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per /readyz poll otherwise
    with tempfile.TemporaryDirectory(prefix="demo-path-") as workdir:
        result = run(args.cap_s, Path(workdir))
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("written", path=str(args.out), every_model_loaded_s=result["every_model_loaded_s"])


if __name__ == "__main__":
    main()
