"""``shopintent serve --workers N``: one listening socket, one store sink, N HTTP worker processes.

One Python process saturates one core (its event loop, the log writer and the
effects threads share the GIL); a shop needs more. The :class:`Supervisor`
binds the listening socket once and hands it to N worker processes, as
uvicorn's own multiprocess supervisor does, so the kernel spreads connections
over them. Each worker is a full service with ``ServeConfig.sink`` false: it
commits events to the shared log (Redis Streams or Kafka), keeps session
state, shopper histories, signals, the dedup index and the decision engine's
cap ledger in Redis, and never opens DuckDB. One sink process
(``shopintent serve sink``) consumes the log into DuckDB behind them.

The supervisor restarts a worker or the sink that dies (with a log line),
and on SIGINT/SIGTERM stops the workers first (nothing new is committed),
then the sink (which stores what the log still holds), and returns 0. A key
generated because none is configured is generated here once and given to
every worker in its configuration, so any worker accepts it.

Workers are started with the ``spawn`` method: a fresh interpreter that loads
the models from the cached files itself, and inherits no threads or open
connections of the supervisor.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.context import SpawnProcess
from typing import Any

from shopintent.log import configure_logging, get_logger
from shopintent.serve.config import ServeConfig, resolve_api_keys
from shopintent.settings import Settings

log = get_logger(__name__)

#: Log backends several processes can share (the file log belongs to one process).
SHARED_STREAMS = ("redis", "kafka")
#: How long a worker or the sink gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0
#: The shortest time between two starts of the same worker slot (a crash loop does not spin).
RESTART_INTERVAL_S = 1.0
#: uvicorn's exit code for a worker that could not start (the app or the socket is broken).
STARTUP_FAILURE = 3


def check_workers_config(config: ServeConfig) -> None:
    """Raise a ValueError a user can act on when ``config`` cannot run several workers."""
    if config.workers <= 1:
        return
    if config.state != "redis":
        raise ValueError(f"--workers {config.workers} needs --state redis: session state, histories "
                         "and the caps ledger must be shared by the workers")
    if config.stream not in SHARED_STREAMS:
        raise ValueError(f"--workers {config.workers} needs --stream redis or --stream kafka (the "
                         f"'{config.stream}' log is not shared by several processes)")


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on (bound once, here)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_worker(settings: Settings, config: ServeConfig, load_models: bool, sockets: list[socket.socket],
                 index: int) -> None:
    """A worker process: the app on the inherited socket until SIGINT/SIGTERM (runs in the child)."""
    from shopintent.serve.startup import hold_collection

    hold_collection()  # released by the worker's service after its first model loads
    import uvicorn

    from shopintent.serve import create_app

    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, config, load_models=load_models)
    # As in the single-process CLI: short GIL switches keep the writer threads from waiting on the loop.
    sys.setswitchinterval(0.0005)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    log.info("worker serving", worker=index)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:  # the terminal's Ctrl-C reaches the whole process group
        pass


def sink_command(config: ServeConfig, store: str, load_models: bool) -> list[str]:
    """The ``shopintent serve sink`` command line for ``config`` (the workers' log and state)."""
    command = [sys.executable, "-m", "shopintent.cli.main", "serve", "sink", "--store", store,
               "--stream", config.stream, "--state", config.state, "--fsync", config.fsync,
               "--auto-decide", config.auto_decide, "--models" if load_models else "--no-models"]
    if config.redis_url:
        command += ["--redis-url", config.redis_url]
    if config.kafka_bootstrap:
        command += ["--kafka-bootstrap", config.kafka_bootstrap]
    return command


@dataclasses.dataclass
class _Slot:
    """One worker position: its current process and when it was last started."""

    index: int
    process: SpawnProcess | None = None
    started: float = 0.0
    restarts: int = 0


class Supervisor:
    """Binds once, runs the sink and ``config.workers`` HTTP workers, restarts the dead, stops in order.

    Parameters
    ----------
    settings, config:
        As for one service; ``config.workers`` > 1, ``config.state`` redis and
        ``config.stream`` redis or kafka (:func:`check_workers_config`).
    host, port:
        Where to listen (``port`` 0: a free port, see :attr:`port`).
    load_models:
        Whether workers (and the sink) load the cached models.
    """

    def __init__(self, settings: Settings, config: ServeConfig, host: str, port: int,
                 load_models: bool = True) -> None:
        check_workers_config(config)
        # A key made on first use is made here, before any child starts: they all read one file.
        settings.resolved_pseudonym_key()
        _, generated = resolve_api_keys(settings, config)
        self.generated_key = generated
        if generated is not None:  # one key for every worker (each would otherwise make its own)
            config = dataclasses.replace(config, api_keys=(generated,))
        self.settings = settings
        self.config = config
        self.worker_config = dataclasses.replace(config, sink=False)
        self.load_models = load_models
        self.store = config.resolved_store_path(settings)
        self.socket = bind_socket(host, port)
        self.host = host
        self.port = int(self.socket.getsockname()[1])
        self.slots = [_Slot(i) for i in range(config.workers)]
        self.sink: subprocess.Popen[bytes] | None = None
        self.sink_restarts = 0
        self._stop = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")

    # -- children -------------------------------------------------------------------------
    def _start_sink(self) -> None:
        # Its own session: a terminal's Ctrl-C reaches the workers, not the sink, which is
        # stopped after them so that it stores what they committed last.
        self.sink = subprocess.Popen(sink_command(self.config, self.store, self.load_models),
                                     start_new_session=True)
        log.info("sink started", pid=self.sink.pid, stream=self.config.stream, store=self.store)

    def _start_worker(self, slot: _Slot) -> None:
        process = self._spawn.Process(
            target=serve_worker, name=f"shopintent-worker-{slot.index}",
            args=(self.settings, self.worker_config, self.load_models, [self.socket], slot.index))
        process.start()
        slot.process, slot.started = process, time.monotonic()
        log.info("worker started", worker=slot.index, pid=process.pid)

    def pids(self) -> dict[str, int | None]:
        """The sink's and each worker's process id (for operators and fault tests)."""
        found: dict[str, int | None] = {"sink": self.sink.pid if self.sink else None}
        found.update({f"worker-{s.index}": s.process.pid if s.process else None for s in self.slots})
        return found

    def _keep_alive(self) -> None:
        """Restart what died: a worker in its slot, the sink; a worker that cannot start stops all."""
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is None or process.exitcode is None or now - slot.started < RESTART_INTERVAL_S:
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker could not start; stopping", worker=slot.index, pid=process.pid)
                self._stop.set()
                return
            slot.restarts += 1
            log.warning("worker died; restarting it", worker=slot.index, pid=process.pid,
                        exitcode=process.exitcode, restarts=slot.restarts)
            self._start_worker(slot)
        if self.sink is not None and self.sink.poll() is not None:
            self.sink_restarts += 1
            log.warning("sink died; restarting it", pid=self.sink.pid, exitcode=self.sink.returncode,
                        restarts=self.sink_restarts)
            self._start_sink()

    def _stop_all(self) -> None:
        """Workers first (SIGTERM, then SIGKILL after the timeout), then the sink, then the socket."""
        for slot in self.slots:
            if slot.process is not None and slot.process.exitcode is None:
                slot.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join(max(0.0, deadline - time.monotonic()))
                if slot.process.exitcode is None:
                    log.warning("worker did not stop in time; killed", worker=slot.index)
                    slot.process.kill()
                    slot.process.join()
        if self.sink is not None and self.sink.poll() is None:
            self.sink.terminate()
            try:
                self.sink.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("sink did not stop in time; killed", pid=self.sink.pid)
                self.sink.kill()
                self.sink.wait()
        self.socket.close()

    # -- life -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`run` to stop everything and return (safe from a signal handler or thread)."""
        self._stop.set()

    def run(self) -> int:
        """Start the sink and the workers, watch them until stopped; 0 after an orderly stop.

        SIGINT and SIGTERM stop it when it runs on the main thread.
        """
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, lambda *_: self._stop.set())
                        for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start_sink()
            for slot in self.slots:
                self._start_worker(slot)
            log.info("workers running", workers=len(self.slots), url=f"http://{self.host}:{self.port}",
                     pids=self.pids())
            while not self._stop.wait(0.2):
                self._keep_alive()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("workers stopped", restarts=sum(s.restarts for s in self.slots),
                 sink_restarts=self.sink_restarts)
        return 0
