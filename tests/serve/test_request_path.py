"""The /v1/intent request path's cheap parts give the same answers as the general ones."""

from __future__ import annotations

import asyncio
import csv
import math
import threading

import numpy as np
import pytest

from shopintent.serve.adapters.convert import plain
from shopintent.serve.adapters.text import json_ready
from shopintent.serve.auth import ApiKey, KeyRing
from shopintent.serve.batcher import MicroBatcher
from shopintent.serve.metrics import LatencyMiddleware, ServiceMetrics
from shopintent.settings import Settings
from shopintent.text.rules import extract_rule_slots


def _bitext_texts(settings: Settings, n: int = 400) -> list[str]:
    """The first ``n`` utterances of the real Bitext test split (read as the file is, no loader)."""
    path = settings.data_dir / "bitext_customer_service" / "Bitext_Sample_Customer_Service_Testing_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return [row["utterance"] for _, row in zip(range(n), csv.DictReader(f), strict=False)]


def test_json_ready_equals_plain_on_rule_slots_of_real_texts(settings: Settings) -> None:
    texts = _bitext_texts(settings)
    results = [{"language": "en", "intent": None, "confidence": np.float32(0.25),
                "slots": [s.as_dict() for s in extract_rule_slots(t)], "sentiment": None,
                "sentiment_confidence": float("nan")} for t in texts]
    assert sum(len(r["slots"]) for r in results) > 0  # real texts do carry rule slots
    for result in results:
        assert json_ready(result) == plain(result)
    assert json_ready(results[0])["confidence"] == 0.25 and json_ready(results[0])["sentiment_confidence"] is None


def test_batcher_answers_each_caller_with_its_own_result_in_batches(settings: Settings) -> None:
    texts = _bitext_texts(settings, 200)
    batcher: MicroBatcher[str, int] = MicroBatcher(lambda batch: [len(t) for t in batch], max_batch=16)

    async def all_at_once() -> list[int]:
        return list(await asyncio.gather(*(batcher(t) for t in texts)))

    try:
        assert asyncio.run(all_at_once()) == [len(t) for t in texts]
        assert batcher.items == len(texts) and batcher.batches < len(texts)  # batches formed
        assert batcher.submit(texts[0]).result(timeout=5) == len(texts[0])  # from a plain thread too
    finally:
        batcher.close()


def test_batcher_error_reaches_every_waiter_and_a_cancelled_waiter_is_skipped() -> None:
    release = threading.Event()

    def slow_then_fail(batch: list[str]) -> list[int]:
        release.wait(5)
        raise ValueError(f"cannot parse {len(batch)} texts")

    batcher: MicroBatcher[str, int] = MicroBatcher(slow_then_fail, max_batch=8)

    async def run() -> list[object]:
        first = asyncio.ensure_future(batcher("a"))
        await asyncio.sleep(0.05)  # the worker holds "a"; the next three queue up behind it
        waiting = [asyncio.ensure_future(batcher(t)) for t in ("b", "c", "d")]
        await asyncio.sleep(0.05)
        waiting[0].cancel()
        release.set()
        return list(await asyncio.gather(first, *waiting, return_exceptions=True))

    try:
        outcomes = asyncio.run(run())
    finally:
        batcher.close()
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert [str(o) for o in outcomes if isinstance(o, ValueError)] == [
        "cannot parse 1 texts", "cannot parse 3 texts", "cannot parse 3 texts"]


def test_key_fingerprint_is_hashed_once_and_stays_the_same() -> None:
    key = ApiKey(b"a-secret-key", frozenset({"read"}))
    assert key.key_id is key.key_id and key.key_id.startswith("k_") and len(key.key_id) == 18
    assert KeyRing((key,)).find("a-secret-key") == key and "a-secret-key" not in repr(key)


def test_latency_children_are_cached_per_closed_label_set() -> None:
    metrics = ServiceMetrics()
    middleware = LatencyMiddleware(lambda *_: None, metrics)  # type: ignore[arg-type, return-value]
    for method in ("GET", "GET", "BREW", "TRACE-ME"):
        middleware.observe(method, "/healthz", 200, 0.002)
    middleware.observe("POST", "/v1/intent", 503, 0.004)
    assert sorted(middleware._children) == [("GET", "/healthz", "2xx"), ("POST", "/v1/intent", "5xx"),
                                            ("other", "/healthz", "2xx")]
    count = metrics.registry.get_sample_value(
        "shopintent_http_request_duration_seconds_count", {"method": "other", "route": "/healthz", "status": "2xx"})
    assert count == 2 and math.isclose(metrics.registry.get_sample_value(
        "shopintent_http_request_duration_seconds_sum",
        {"method": "GET", "route": "/healthz", "status": "2xx"}) or 0.0, 0.004)


def test_closed_labels_cache_only_values_inside_their_sets() -> None:
    metrics = ServiceMetrics()
    for kind in ("purchase", "purchase", "made_up_kind", "another_one"):
        metrics.outcomes.labels(kind).inc()
    assert list(metrics.outcomes._children) == [("purchase",)]  # outside values never grow the cache
    assert metrics.registry.get_sample_value("shopintent_outcomes_total", {"kind": "purchase"}) == 2
    assert metrics.registry.get_sample_value("shopintent_outcomes_total", {"kind": "other"}) == 2
    assert metrics.events.labels(outcome="stored", source="http") is metrics.events.labels("stored", "http")


def test_gateway_wakes_each_event_loop_once_per_write_group(settings: Settings) -> None:
    """Concurrent one-event requests on real Taobao rows: each caller gets its own event's
    status and keyed id, the loop is woken once per write group (not once per request), and
    a request sent after the gateway stopped is refused with IngestUnavailable."""
    import pandas as pd

    from shopintent.datasets import taobao_userbehavior_head
    from shopintent.privacy import Pseudonymizer
    from shopintent.serve.dedup import MemorySeenIds
    from shopintent.serve.gateway import STORED, IngestGateway, IngestUnavailable, StoredEffects
    from shopintent.serve.streams.memory import MemorySource

    raw = taobao_userbehavior_head.read_raw(settings).head(120)
    rows = [{k: v for k, v in r.items() if not pd.isna(v)} | {"event_id": f"g-{i}"}
            for i, r in enumerate(raw.to_dict(orient="records"))]
    first_group = threading.Event()

    def effects(records: list[dict[str, object]], source: str) -> StoredEffects:
        first_group.wait(5)  # the first group holds the effects thread; the rest queue up
        return StoredEffects()

    gateway = IngestGateway(MemorySource(), Pseudonymizer(b"k" * 32), MemorySeenIds(3600.0), None,
                            on_committed=effects, max_future_skew_s=None)
    gateway.start()
    wake_ups = 0

    async def all_at_once() -> list[object]:
        nonlocal wake_ups
        loop = asyncio.get_running_loop()
        plain_wake = loop.call_soon_threadsafe

        def counted(*args: object, **kwargs: object) -> object:
            nonlocal wake_ups
            wake_ups += 1
            return plain_wake(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        calls = [asyncio.ensure_future(gateway.ingest([row])) for row in rows]
        await asyncio.sleep(0.2)
        first_group.set()
        return list(await asyncio.gather(*calls))

    try:
        outcomes = asyncio.run(all_at_once())
        expected = gateway.submit(rows).result(timeout=10)  # the same rows again: duplicates
    finally:
        gateway.stop()
    assert [o.results[0].status for o in outcomes] == [STORED] * len(rows)
    assert [o.results[0].event_id for o in outcomes] == [r.event_id for r in expected.results]
    assert 1 <= wake_ups < len(rows) / 4  # groups formed, one wake-up each
    with pytest.raises(IngestUnavailable):
        asyncio.run(gateway.ingest(rows[:1]))
