"""The Kafka path measured: events/s from a real broker into a DuckDB store, with consumer lag.

Protocol (:func:`measure`, called by ``benchmarks/serve.py``'s "Kafka path" section):

* a Tansu broker (in-memory storage) on loopback, pinned to the server's CPUs;
* the events are the Taobao records the benchmark replays, protected once here
  (``prepare_records``: what the service publishes) and written to a JSON-lines file;
* **backlog**: this process publishes every record to a fresh topic, ``EVENTS_PER_MESSAGE``
  events a message, each publish waiting for its delivery report (acks=all,
  idempotence); then a store sink starts in a process of its own (pinned to the
  server's CPUs): :class:`~shopintent.serve.streams.kafka.KafkaEventSource` →
  :class:`~shopintent.serve.streams.consumer.StreamConsumer` → ``ingest_protected``
  into a DuckDB file, ``SINK_ROUND`` messages a round, committing offsets after each
  stored round (so the lag falls in steps of a round). Events/s is the
  record count over the sink's time from its first message to its last commit
  (process start and group join excluded, reported apart);
* **live**: a fresh topic; the sink starts first, then a producer process publishes at
  ``LIVE_RATE`` events/s (``LIVE_EVENTS_PER_MESSAGE`` a message) for ``LIVE_SECONDS``;
* in both, this process samples the group's lag (messages published, not committed:
  ``KafkaEventSource.pending``) every ``LAG_EVERY_S``; the samples go into the
  measurement's detail as ``t:lag`` pairs.

The sink and producer are this module run as a program
(``python -m benchmarks.support.kafka_path sink|produce ...``);
``python -m benchmarks.support.kafka_path measure [--limit N] [--rate R] [--seconds S]``
runs :func:`measure` alone and prints its measurements as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.support.tansu import TansuBroker
from shopintent.evaluation.bench import Measurement
from shopintent.settings import Settings

EVENTS_PER_MESSAGE = 100
LIVE_RATE = 1_000
LIVE_EVENTS_PER_MESSAGE = 10
LIVE_SECONDS = 10.0
LAG_EVERY_S = 0.5
#: Messages the sink stores per round (and commits after): the service's StreamConsumer default.
SINK_ROUND = 64
#: Low like the tests: a group join takes about half of it on Tansu.
SESSION_MS = 2000
REPO_ROOT = Path(__file__).resolve().parents[2]


def _child(args: Sequence[str], cpus: list[int] | None) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.support.kafka_path", *args],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)
    return process


def _lines(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """A thread collects the child's JSON lines as they come."""
    lines: list[dict[str, Any]] = []

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(json.loads(line))

    threading.Thread(target=collect, daemon=True).start()
    return lines


def _wait_for(lines: list[dict[str, Any]], key: str, process: subprocess.Popen[str],
              timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [line for line in lines if key in line]
        if found:
            return found[-1]
        if process.poll() is not None and not found:
            raise RuntimeError(f"kafka benchmark child exited with {process.returncode} "
                               f"before {key!r}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"kafka benchmark child did not report {key!r} in {timeout_s:g} s")
        time.sleep(0.05)


class _LagSampler:
    """Samples the group's lag on its own thread until stopped."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        from shopintent.serve.streams.kafka import KafkaEventSource

        self.source = KafkaEventSource(bootstrap, topic, group, "lag-sampler")
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def start(self) -> _LagSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((round(time.monotonic() - self._started, 2), self.source.pending()))
            self._stop.wait(LAG_EVERY_S)

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join(timeout=10)
        self.source.close()
        return self.samples


def _series(samples: list[tuple[float, int]], limit: int = 40) -> str:
    step = max(1, len(samples) // limit)
    return " ".join(f"{t:g}:{lag}" for t, lag in samples[::step])


def measure(settings: Settings, work: Path, records: list[dict[str, Any]],
            cpus: list[int] | None = None, live_rate: int = LIVE_RATE,
            live_seconds: float = LIVE_SECONDS) -> list[Measurement]:
    """Events/s broker → DuckDB store (a backlog, then a live rate), with consumer lag over time.

    ``cpus``: the CPUs the broker and the sink are pinned to (the server's side).
    """
    from shopintent.privacy.pseudonym import Pseudonymizer
    from shopintent.serve.streams.kafka import KafkaEventSource
    from shopintent.store.ingest import prepare_records

    pseudonymizer = Pseudonymizer.from_settings(settings)
    protected = prepare_records(records, pseudonymizer).records
    folder = Path(work) / "kafka"
    folder.mkdir(parents=True, exist_ok=True)
    events_file = folder / "events.jsonl"
    events_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in protected))
    n = len(protected)
    out: list[Measurement] = []
    with TansuBroker(log_path=folder / "tansu.log") as broker:
        if cpus and broker.process is not None:
            os.sched_setaffinity(broker.process.pid, cpus)
        common = ["--bootstrap", broker.bootstrap, "--key-id", pseudonymizer.key_id]

        # Backlog: everything published first, then drained by the sink.
        producer = KafkaEventSource(broker.bootstrap, "bench.backlog", "bench-backlog", "producer")
        started = time.perf_counter()
        for start in range(0, n, EVENTS_PER_MESSAGE):
            producer.publish(protected[start : start + EVENTS_PER_MESSAGE],
                             key_id=pseudonymizer.key_id, applied=True)
        publish_s = time.perf_counter() - started
        producer.close()
        sampler = _LagSampler(broker.bootstrap, "bench.backlog", "bench-backlog").start()
        sink = _child(["sink", *common, "--topic", "bench.backlog", "--group", "bench-backlog",
                       "--store", str(folder / "backlog.duckdb"), "--expect", str(n)], cpus)
        done = _wait_for(_lines(sink), "stored", sink, timeout_s=600)
        sink.wait(30)
        lag = sampler.stop()
        messages = -(-n // EVENTS_PER_MESSAGE)
        detail = (f"{n:,} protected Taobao events in {messages:,} messages of "
                  f"{EVENTS_PER_MESSAGE}; "
                  f"Tansu on loopback; sink process → DuckDB file, offsets committed after each "
                  f"stored round; CPUs {cpus or 'all'}")
        out += [
            Measurement("Kafka path: publish, acks=all (backlog)", n / publish_s, "events/s",
                        f"{detail}; one process, each publish waits for its delivery report"),
            Measurement("Kafka path: broker → store (backlog)", done["stored"] / done["seconds"],
                        "events/s", f"{detail}; from the sink's first message to its last commit"),
            Measurement("Kafka path: sink join, first message after start",
                        done["first_after_s"], "s",
                        "from the sink's start after its imports: group join "
                        "(≈ session.timeout.ms / 2 on Tansu) and first fetch"),
            Measurement("Kafka path: consumer lag max (backlog)",
                        max((v for _, v in lag), default=0), "messages",
                        "lag over time (s:messages): " + _series(lag)),
        ]

        # Live: a producer at LIVE_RATE while the sink stores.
        live = min(n, int(live_rate * live_seconds))
        sink = _child(["sink", *common, "--topic", "bench.live", "--group", "bench-live",
                       "--store", str(folder / "live.duckdb"), "--expect", str(live)], cpus)
        sink_lines = _lines(sink)
        _wait_for(sink_lines, "joined", sink, timeout_s=60)
        sampler = _LagSampler(broker.bootstrap, "bench.live", "bench-live").start()
        producer_process = _child(["produce", *common, "--topic", "bench.live",
                                   "--events", str(events_file), "--count", str(live),
                                   "--rate", str(live_rate),
                                   "--per-message", str(LIVE_EVENTS_PER_MESSAGE)], None)
        produced = _wait_for(_lines(producer_process), "published", producer_process,
                             timeout_s=live_seconds * 10 + 60)
        done = _wait_for(sink_lines, "stored", sink, timeout_s=300)
        sink.wait(30)
        producer_process.wait(30)
        lag = sampler.stop()
        detail = (f"{live:,} protected Taobao events offered at {live_rate:,}/s in messages of "
                  f"{LIVE_EVENTS_PER_MESSAGE} by a producer process (not pinned); sink process "
                  f"→ DuckDB file; CPUs {cpus or 'all'}")
        out += [
            Measurement(f"Kafka path: producer rate achieved at {live_rate:,}/s offered",
                        produced["published"] / produced["seconds"], "events/s", detail),
            Measurement(f"Kafka path: consumer lag max at {live_rate:,} events/s",
                        max((v for _, v in lag), default=0), "messages",
                        "lag over time (s:messages): " + _series(lag)),
            Measurement(f"Kafka path: stored after the last publish at {live_rate:,} events/s",
                        max(0.0, done["finished_at"] - produced["finished_at"]), "s",
                        f"{detail}; wall clock from the producer's last delivery report to "
                        "the sink's last commit"),
        ]
    return out


# -- the child processes --------------------------------------------------------------------

def _sink(args: argparse.Namespace) -> None:
    """Store the topic into a DuckDB file until ``expect`` events are stored; print timings."""
    from shopintent.serve.streams.consumer import StreamConsumer
    from shopintent.serve.streams.kafka import KafkaEventSource
    from shopintent.store.event_store import EventStore
    from shopintent.store.ingest import ingest_protected

    began = time.monotonic()
    store = EventStore(args.store)
    source = KafkaEventSource(args.bootstrap, args.topic, args.group, "sink",
                              session_timeout_ms=SESSION_MS)

    def sink(messages: Sequence[Any]) -> None:
        rows = [e for m in messages for e in m.events]
        if rows:
            ingest_protected(store, rows, args.key_id)

    consumer = StreamConsumer(source, sink, key_id=args.key_id, max_messages=SINK_ROUND, poll_s=0.1)
    joined = False
    first: float | None = None
    while store.count() < args.expect:
        round_began = time.monotonic()
        if consumer.run_once() and first is None:
            first = round_began
        if not joined and source.assigned_partitions:
            joined = True  # the live run's producer starts on this line
            print(json.dumps({"joined": time.monotonic() - began}), flush=True)
    finished = time.monotonic()
    print(json.dumps({"stored": store.count(), "seconds": finished - (first or finished),
                      "first_after_s": (first or finished) - began, "finished_at": time.time()}),
          flush=True)
    source.close()


def _produce(args: argparse.Namespace) -> None:
    """Publish ``count`` events from the file at ``rate`` events/s; print what was achieved."""
    from shopintent.serve.streams.kafka import KafkaEventSource

    with open(args.events, encoding="utf-8") as handle:
        events = [json.loads(line) for _, line in zip(range(args.count), handle, strict=False)]
    source = KafkaEventSource(args.bootstrap, args.topic, "unused", "producer")
    interval = args.per_message / args.rate
    started = time.monotonic()
    for i, start in enumerate(range(0, len(events), args.per_message)):
        delay = started + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        source.publish(events[start : start + args.per_message], key_id=args.key_id, applied=True)
    seconds = time.monotonic() - started
    print(json.dumps({"published": len(events), "seconds": seconds, "finished_at": time.time()}),
          flush=True)
    source.close()


def _measure_alone(args: argparse.Namespace) -> None:
    """:func:`measure` outside ``shopintent bench serve``: the measurements as JSON lines."""
    import dataclasses
    import tempfile

    from shopintent.serve.replay import taobao_stream

    settings = Settings()
    records = taobao_stream(settings, args.limit or None)
    with tempfile.TemporaryDirectory(prefix="kafka-path-") as work:
        for m in measure(settings, Path(work), records, live_rate=int(args.rate),
                         live_seconds=args.seconds):
            print(json.dumps(dataclasses.asdict(m), ensure_ascii=False), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("measure", "sink", "produce"))
    parser.add_argument("--limit", type=int, default=0,
                        help="measure: the first N in-window Taobao events (0: all)")
    parser.add_argument("--seconds", type=float, default=LIVE_SECONDS, help="measure: live run length")
    parser.add_argument("--bootstrap")
    parser.add_argument("--topic")
    parser.add_argument("--key-id")
    parser.add_argument("--group", default="bench")
    parser.add_argument("--store")
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--events")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--rate", type=float, default=LIVE_RATE)
    parser.add_argument("--per-message", type=int, default=LIVE_EVENTS_PER_MESSAGE)
    args = parser.parse_args(argv)
    {"measure": _measure_alone, "sink": _sink, "produce": _produce}[args.role](args)


if __name__ == "__main__":
    main()
