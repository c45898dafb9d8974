"""Fixtures for the service tests: apps on real settings, a real redis-server, trained models."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from benchmarks.support import free_port
from shopintent.serve import ServeConfig, create_app
from shopintent.settings import Settings

API_KEY = "test-api-key-not-secret"
AUTH = {"X-API-Key": API_KEY}


def make_client(settings: Settings, **config: object) -> TestClient:
    """A test client over a fresh app (in-memory store unless ``store_path`` is given)."""
    options: dict[str, object] = {"store_path": ":memory:", "api_keys": (API_KEY,),
                                  "train_missing": False}
    options.update(config)
    load_models = bool(options.pop("load_models", False))
    return TestClient(create_app(settings, ServeConfig(**options), load_models=load_models))  # type: ignore[arg-type]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings) as c:
        yield c


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, stopped after the session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


# ``model_settings`` (the default behaviour and recommendation models in the session's state
# folder) is in tests/conftest.py: it reuses the models the session's `models prepare` run trained.


def wait_ready(client: TestClient, models: tuple[str, ...], timeout_s: float = 120.0) -> None:
    """Block until the named models are loaded by the service's loader thread."""
    service = client.app.state.service  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while not all(service.models[m].ready for m in models):
        if time.monotonic() > deadline:
            reasons = {m: service.models[m].status() for m in models}
            raise AssertionError(f"models not ready after {timeout_s} s: {reasons}")
        time.sleep(0.1)


def taobao_records(settings: Settings, limit: int) -> list[dict[str, object]]:
    from shopintent.serve.replay import taobao_stream

    return taobao_stream(settings, limit)


REPO_ROOT = Path(__file__).resolve().parents[2]


def small_parser(settings: Settings):  # type: ignore[no-untyped-def]
    """A real intent model trained on a per-intent subset of the shop-intent train split (~10 s)."""
    from collections import defaultdict

    from shopintent.text import IntentClassifier, Parser, recipes

    splits = recipes.shop_intent_splits(settings)
    per_label: dict[str, list[str]] = defaultdict(list)
    for text, label in zip(splits["train"].texts, splits["train"].labels, strict=True):
        if len(per_label[label]) < 40:
            per_label[label].append(text)
    texts = [t for label in per_label for t in per_label[label]]
    labels = [label for label in per_label for _ in per_label[label]]
    model = IntentClassifier(cache_dir=settings.state_dir, random_state=0).fit(
        texts, labels, splits["validation"].texts[:300], splits["validation"].labels[:300])
    return Parser(intent_model=model)


@contextmanager
def serving(app: object, timeout_s: float = 60.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yields its base URL."""
    import threading

    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def lean_kept(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the lean ASGI paths kept each request they saw (True) or handed it to the route."""
    from shopintent.serve.routers.lean import LeanPaths

    kept: list[bool] = []
    original = LeanPaths._answer

    async def counted(self: LeanPaths, lean: object, scope: object, body: bytes) -> object:
        response = await original(self, lean, scope, body)  # type: ignore[arg-type]
        kept.append(response is not None)
        return response

    monkeypatch.setattr(LeanPaths, "_answer", counted)
    return kept
