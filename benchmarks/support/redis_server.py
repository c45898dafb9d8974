"""A real ``redis-server`` for the benchmark, durable the way the docs tell users to run it.

``--appendonly yes --appendfsync everysec`` (the documented trade-off: up to a
second of acknowledged writes at risk when the *machine* dies; a killed Redis
process loses nothing the kernel already has). :meth:`RedisServer.kill` is a
``kill -9`` and :meth:`RedisServer.start` again replays the AOF on the same
port and folder, which is what the broker-crash measurement needs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from benchmarks.support.service_process import free_port


class RedisServer:
    """One ``redis-server`` on ``127.0.0.1:<port>`` with its AOF in ``folder``."""

    def __init__(self, folder: Path, appendfsync: str = "everysec", cpus: Sequence[int] | None = None,
                 port: int | None = None) -> None:
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync {appendfsync!r} is not one of always, everysec, no")
        self.folder = folder
        self.appendfsync = appendfsync
        self.cpus = list(cpus) if cpus else None
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> RedisServer:
        """Start (or restart after :meth:`kill`, replaying the AOF) and wait for PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server); "
                               "the --workers and --stream redis measurements need it")
        self.folder.mkdir(parents=True, exist_ok=True)
        cpus = self.cpus
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "yes",
             "--appendfsync", self.appendfsync, "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)  # noqa: PLW1509
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """``kill -9`` the server (a crash: no shutdown, no final fsync)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
