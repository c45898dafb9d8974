"""``shopintent serve``: run the HTTP service (optionally replaying Taobao into it); ``serve replay``.

    shopintent serve --host 127.0.0.1 --port 8000               # the service
    shopintent serve --port 8000 --replay-rate 500              # service + live Taobao replay (make demo)
    shopintent serve --public-dashboard                         # dashboard + /metrics without a key
    shopintent serve replay --url http://127.0.0.1:8000 --rate 500 --api-key KEY
    shopintent serve sink --stream redis --state redis                 # the store sink alone (workers)
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from shopintent.cli.choices import AutoDecide, FsyncPolicy, IntentEncoder, StateBackend, StreamBackend
from shopintent.cli.output import console, description_column, errors, print_json
from shopintent.settings import get_settings

app = typer.Typer(help="The real-time HTTP service, its dashboard, and the Taobao replay.",
                  invoke_without_command=True)


def _first_key(scope: str) -> str | None:
    """The first key in SHOPINTENT_API_KEYS that has ``scope`` (its secret, for a client)."""
    from shopintent.serve.auth import parse_api_keys

    settings = get_settings()
    if settings.api_keys is None:
        return None
    keys = parse_api_keys(settings.api_keys.get_secret_value().split(","))
    return next((k.secret.decode("utf-8") for k in keys if k.allows(scope)), None)


def _wait_until_up(url: str, timeout_s: float = 60.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


@app.callback()
def run(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
    store_path: Path | None = typer.Option(None, "--store", help="DuckDB file (default: state dir)."),
    stream: StreamBackend = typer.Option(
        StreamBackend.FILE, "--stream",
        help="The durable event log, where events are committed before the answer: file (local "
        "segment files in the state folder, one process), redis (Redis Streams), kafka, memory "
        "(tests only: not durable)."),
    kafka_bootstrap: str | None = typer.Option(None, "--kafka-bootstrap",
                                               help="HOST:PORT of a Kafka broker (--stream kafka)."),
    fsync: FsyncPolicy = typer.Option(
        FsyncPolicy.EVERYSEC, "--fsync",
        help="--stream file: sync to disk before each answer (always) or at most 1 s later "
        "(everysec: an OS crash or power loss can lose the last second; a killed process loses "
        "nothing)."),
    state: StateBackend = typer.Option(StateBackend.MEMORY, "--state",
                                       help="Where live session state lives (redis: shared by workers)."),
    redis_url: str | None = typer.Option(None, "--redis-url", help="redis://host:port/db for redis (default: SHOPINTENT_REDIS_URL)."),
    auto_decide: AutoDecide = typer.Option(
        AutoDecide.CART, "--auto-decide",
        help="When the service decides on its own: off, cart (after cart/favourite events), every event."),
    max_body_bytes: int = typer.Option(4 * 1024 * 1024, "--max-body-bytes", min=1024,
                                       help="Largest request body accepted (413 above it)."),
    load_models: bool = typer.Option(
        True, "--models/--no-models",
        help="Load the default models `shopintent models prepare` wrote (the service never trains)."),
    train_missing: bool = typer.Option(
        False, "--train-missing/--no-train-missing", hidden=True,
        help="Refused: the service never trains; run `shopintent models prepare` first."),
    replay_rate: float | None = typer.Option(
        None, "--replay-rate", help="Also replay the Taobao log into the service at this many events/s."),
    public_dashboard: bool = typer.Option(
        False, "--public-dashboard",
        help="Serve the dashboard data and /metrics without a key (read-only; /v1 still needs keys)."),
    read_limit: str = typer.Option("20000/minute", "--read-limit",
                                   help="Requests per key to read routes ('' for no limit)."),
    write_limit: str = typer.Option("20000/minute", "--write-limit",
                                    help="Requests per key to write routes ('' for no limit)."),
    anonymous_limit: str = typer.Option("1200/minute", "--anonymous-limit",
                                        help="Requests without a valid key, per client address."),
    shopper_history: bool = typer.Option(
        True, "--shopper-history/--no-shopper-history",
        help="Score sessions over each shopper's earlier sessions, as the models were trained "
        "(off: every session scored as a first visit; for measuring the cost only)."),
    workers: int = typer.Option(
        1, "--workers", min=1,
        help="HTTP worker processes on one socket, plus one store sink process (N > 1 needs "
        "--state redis and --stream redis or kafka: caps and state are shared through Redis)."),
    intent_encoder: IntentEncoder = typer.Option(
        IntentEncoder.USE_INT8, "--intent-encoder",
        help="The intent model's USE block: use-int8 (ONNX Runtime int8, less CPU per text, 0.09 "
        "point lower validation accuracy; once `models prepare` exported it) or use (the float "
        "encoder it was trained with)."),
) -> None:
    """Start the service (and, with --replay-rate, a live replay of the real Taobao events)."""
    if ctx.invoked_subcommand is not None:
        return
    if workers == 1:  # this process starts the service, which releases it (serve/startup.py)
        from shopintent.serve.startup import hold_collection

        hold_collection()
    import uvicorn

    from shopintent.serve import ServeConfig, create_app

    settings = get_settings()
    if train_missing:
        from shopintent.serve.config import NO_TRAINING

        errors.print(f"--train-missing: {NO_TRAINING}")
        raise typer.Exit(code=2)
    try:
        config = ServeConfig(store_path=store_path, stream=stream.value, state=state.value,
                             redis_url=redis_url or settings.redis_url,
                             kafka_bootstrap=kafka_bootstrap, fsync=fsync.value,
                             auto_decide=auto_decide.value, max_body_bytes=max_body_bytes,
                             public_dashboard=public_dashboard,
                             read_rate_limit=read_limit, write_rate_limit=write_limit,
                             anonymous_rate_limit=anonymous_limit, shopper_history=shopper_history,
                             workers=workers, intent_encoder=intent_encoder.value)
        if workers > 1:
            from shopintent.serve.workers import Supervisor

            supervisor = Supervisor(settings, config, host, port, load_models=load_models)
        else:
            app_ = create_app(settings, config, load_models=load_models)
    except ValueError as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    url = f"http://{host}:{port}"
    if load_models:
        from shopintent.prepare import SERVICE_NEEDS, not_prepared

        missing = [reason for slot in SERVICE_NEEDS if (reason := not_prepared(settings, slot))]
        for reason in missing:
            errors.print(reason)
    generated = supervisor.generated_key if workers > 1 else app_.state.api_key_generated
    _announce(url, generated, public_dashboard)
    stop = threading.Event()
    if replay_rate is not None:
        key = generated or _first_key("write")
        if key is None:
            errors.print("--replay-rate needs a key with the write scope in SHOPINTENT_API_KEYS")
            raise typer.Exit(code=2)
        threading.Thread(target=_replay_in_background, args=(url, key, replay_rate, stop),
                         daemon=True, name="replay").start()
    # The writer thread makes many short calls into DuckDB and Arrow that release the GIL; with
    # the default 5 ms switch interval each return can wait 5 ms behind the busy event loop.
    sys.setswitchinterval(0.0005)
    try:
        if workers > 1:
            supervisor.run()
        else:
            uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)
    finally:
        stop.set()


def _announce(url: str, generated_key: str | None, public_dashboard: bool) -> None:
    """Where the service, its API docs and its dashboard are, and which key opens them."""
    console.print(f"shopintent service on {url} · API docs {url}/docs", markup=False)
    if generated_key:
        console.print(f"API key for this run (SHOPINTENT_API_KEYS not set): {generated_key}",
                      markup=False)
        console.print(f"dashboard: {url}/#key={generated_key}", markup=False)
        return
    console.print("API keys: from SHOPINTENT_API_KEYS", markup=False)
    console.print(f"dashboard: {url}/ " + ("(public: no key needed for it and /metrics)"
                                           if public_dashboard else
                                           f"(open {url}/#key=KEY with a read key)"), markup=False)


def _replay_in_background(url: str, key: str, rate: float, stop: threading.Event) -> None:
    from shopintent.serve.replay import replay, taobao_stream

    if not _wait_until_up(url):
        errors.print("replay: the service did not come up; not replaying")
        return
    records = taobao_stream(get_settings())
    console.print(f"replaying {len(records):,} Taobao events at {rate:,.0f} events/s (looping)")
    try:
        replay(url, key, records, rate=rate, batch_size=max(1, min(500, int(rate / 4) or 1)), loop=True,
               should_stop=stop.is_set)
    except RuntimeError as exc:
        errors.print(f"replay stopped: {exc}")


@app.command("sink")
def sink_command(
    store_path: Path | None = typer.Option(None, "--store", help="DuckDB file (default: state dir)."),
    stream: StreamBackend = typer.Option(StreamBackend.REDIS, "--stream",
                                         help="The event log to consume: redis or kafka (file: "
                                         "the log of a stopped single-process service)."),
    state: StateBackend = typer.Option(StateBackend.REDIS, "--state",
                                       help="Where the workers keep live state (redis)."),
    redis_url: str | None = typer.Option(None, "--redis-url",
                                         help="redis://host:port/db (default: SHOPINTENT_REDIS_URL)."),
    kafka_bootstrap: str | None = typer.Option(None, "--kafka-bootstrap",
                                               help="HOST:PORT of a Kafka broker (--stream kafka)."),
    fsync: FsyncPolicy = typer.Option(FsyncPolicy.EVERYSEC, "--fsync", help="As for `serve`."),
    auto_decide: AutoDecide = typer.Option(
        AutoDecide.CART, "--auto-decide",
        help="Decisions for events the sink applies (outside producers, ?mode=stream)."),
    load_models: bool = typer.Option(True, "--models/--no-models",
                                     help="Load the default models (decisions on stream events)."),
) -> None:
    """Run the store sink alone, without HTTP: log → DuckDB, histories restored (until SIGTERM)."""
    import signal

    from shopintent.serve import ServeConfig
    from shopintent.serve.service import Service

    settings = get_settings()
    try:
        config = ServeConfig(store_path=store_path, stream=stream.value, state=state.value,
                             redis_url=redis_url or settings.redis_url,
                             kafka_bootstrap=kafka_bootstrap, fsync=fsync.value,
                             auto_decide=auto_decide.value)
        service = Service(settings, config)
    except ValueError as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    service.start(load_models=load_models)
    console.print(f"shopintent store sink: {config.stream} → {service.gateway.store_path}",
                  markup=False)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command("replay")
def replay_command(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The running service."),
    api_key: str | None = typer.Option(None, "--api-key",
                                       help="Default: the first write key of SHOPINTENT_API_KEYS."),
    rate: float = typer.Option(500.0, "--rate", min=0.001, help="Events per second."),
    batch_size: int = typer.Option(100, "--batch-size", min=1, max=10_000, help="Events per request."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Send only the first N events."),
    loop: bool = typer.Option(False, "--loop", help="Start over at the end (until Ctrl-C)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Stream the real Taobao UserBehavior events (time order) to a running service."""
    from shopintent.serve.replay import replay, taobao_stream

    settings = get_settings()
    try:
        key = api_key or _first_key("write")
    except ValueError as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if not key:
        errors.print("no API key with the write scope: pass --api-key or set SHOPINTENT_API_KEYS")
        raise typer.Exit(code=2)
    records = taobao_stream(settings, limit)
    progress = Progress(description_column(), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, disable=as_json)
    with progress:
        task = progress.add_task(f"replaying at {rate:,.0f} events/s", total=None if loop else len(records))
        try:
            report = replay(url, key, records, rate=rate, batch_size=batch_size, loop=loop,
                            on_batch=lambda r: progress.update(task, completed=r.sent))
        except RuntimeError as exc:
            errors.print(str(exc))
            raise typer.Exit(code=1) from exc
        except KeyboardInterrupt:
            raise typer.Exit(code=130) from None
    if as_json:
        print_json(report.as_dict())
        return
    console.print(f"sent {report.sent:,} events in {report.seconds:.1f} s: {report.stored:,} stored, "
                  f"{report.duplicates:,} duplicates, {report.rejected:,} rejected, "
                  f"{report.decisions:,} decisions; {report.failed_requests} failed requests")
