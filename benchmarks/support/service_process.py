"""``shopintent serve`` as a real child process: start, wait until ready, stop or kill -9.

The service runs as ``python -m shopintent.cli.main serve`` in its own
interpreter, as in production, so a ``kill -9`` is a real crash. Used by the
serve benchmark and by the service tests that need a real process (fault,
leak, replay, demo path).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from shopintent.settings import Settings


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """``shopintent serve`` in a child process on a free loopback port."""

    def __init__(self, settings: Settings, store: Path, api_key: str, extra_args: Sequence[str] = (),
                 log_path: Path | None = None, cpus: Sequence[int] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.api_key = api_key
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        #: CPUs the service (and every process it starts: workers, sink) may use; None = all.
        self.cpus = list(cpus) if cpus else None
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SHOPINTENT_DATA_DIR": str(self.settings.data_dir),
            "SHOPINTENT_STATE_DIR": str(self.settings.state_dir),
            "SHOPINTENT_API_KEYS": self.api_key,
            "SHOPINTENT_ALLOW_DOWNLOAD": "false",
            "OMP_NUM_THREADS": "1",
        })
        kafka_config = getattr(self.settings, "kafka_config", None)
        if kafka_config is not None:  # librdkafka settings for --stream kafka (e.g. reconnect back-off)
            env["SHOPINTENT_KAFKA_CONFIG"] = kafka_config.get_secret_value()
        if self.settings.pseudonym_key is not None:
            env["SHOPINTENT_PSEUDONYM_KEY"] = self.settings.pseudonym_key.get_secret_value()
        return env

    def start(self, ready: str = "/healthz", timeout_s: float = 120.0,
              wait_models: Sequence[str] = (), consecutive: int = 1) -> float:
        """Start and wait until ``ready`` answers 200; returns seconds.

        With ``wait_models`` (and ``ready="/readyz"``) it waits for those models and the
        store, log, sink and history parts instead, read from the readiness body: a service
        may run without some model (``--no-train-missing`` and none cached), which keeps
        ``/readyz`` at 503; a part a process does not run (a worker's store, whose sink is
        another process) reads ``null`` and is not waited for. ``consecutive`` answers in a
        row must be ready: with several workers behind one socket each answer may come from
        another worker.
        """
        command = [sys.executable, "-m", "shopintent.cli.main", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--store", str(self.store), *self.extra_args]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        started = time.perf_counter()
        cpus = self.cpus
        # Affinity is set in the child before exec, so the workers and the sink it starts inherit it.
        self.process = subprocess.Popen(command, env=self._env(), stdout=out, stderr=out,
                                        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)  # noqa: PLW1509
        deadline = time.monotonic() + timeout_s
        in_a_row = 0
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode} while starting "
                                   f"(log: {self.log_path})")
            try:
                response = httpx.get(self.url + ready, timeout=1.0)
                if ready == "/readyz" and wait_models and response.status_code in (200, 503):
                    body = response.json()
                    models = body.get("models", {})
                    up = all(body.get(part, True) is not False for part in ("store", "stream", "sink", "history"))
                    ok = up and body.get("stream") is not None and all(
                        (models.get(m) or {}).get("ready") for m in wait_models)
                else:
                    ok = response.status_code == 200
                in_a_row = in_a_row + 1 if ok else 0
                if in_a_row >= consecutive:
                    break
            except (httpx.TransportError, ValueError):
                in_a_row = 0
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"service did not become ready in {timeout_s} s")
            time.sleep(0.05)
        self.start_seconds = time.perf_counter() - started
        return self.start_seconds

    def descendants(self) -> list[int]:
        """Process ids the service started (workers, sink, their children), from ``/proc``."""
        if self.process is None:
            return []
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            children = [c for c, p in parents.items() if p == pid]
            found += children
            frontier += children
        return sorted(found)

    def kill(self) -> None:
        """``kill -9`` of the whole service (its workers and sink too): no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            children = self.descendants()
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            _kill_all(children)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), killing after 20 s; no worker or sink is left behind."""
        if self.process is not None and self.process.poll() is None:
            children = self.descendants()
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            _kill_all(children)


def _kill_all(pids: Sequence[int]) -> None:
    """SIGKILL what is still running of ``pids`` (orphans of a killed supervisor)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
