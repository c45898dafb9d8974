"""The log writer hands the records it published to this process's store sink, once each.

The sink appends those records without checking them again
(``store.ingest.ingest_own_records``), so what it is handed must be exactly what the writer
published, each message at most once, nothing in a process without a store, and never more
than the budget held.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer
from shopintent.serve import gateway as gateway_module
from shopintent.serve.dedup import MemorySeenIds
from shopintent.serve.gateway import IngestGateway
from shopintent.serve.streams.memory import MemorySource
from shopintent.settings import Settings
from shopintent.store.ingest import prepare_records

PSEUDONYMIZER = Pseudonymizer(b"held-records-test-key-not-secret!!")


def _requests(settings: Settings, n: int, size: int) -> list[list[dict[str, object]]]:
    raw = taobao_userbehavior_head.read_raw(settings).head(n * size)
    rows = [{k: v for k, v in r.items() if not pd.isna(v)} for r in raw.to_dict(orient="records")]
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _gateway(store: Path | None) -> tuple[IngestGateway, MemorySource]:
    source = MemorySource()
    gateway = IngestGateway(source, PSEUDONYMIZER, MemorySeenIds(3600.0),
                            None if store is None else str(store), max_future_skew_s=None)
    gateway.start()
    return gateway, source


def test_the_sink_is_handed_each_published_message_once_as_published(settings: Settings,
                                                                      tmp_path: Path) -> None:
    gateway, source = _gateway(tmp_path / "held.duckdb")
    try:
        requests = _requests(settings, 4, 50)
        ids = [gateway.submit(batch).result(timeout=30).message_id for batch in requests]
        messages = source.read(10, 1.0)
        assert [m.message_id for m in messages] == ids
        held = gateway.take_published([ids[2], ids[1]])
        assert sorted(held) == sorted(ids[1:3])
        for message in messages[1:3]:
            assert held[message.message_id] == message.events  # what the log holds, as published
            assert held[message.message_id] == prepare_records(
                requests[ids.index(message.message_id)], PSEUDONYMIZER,
                max_future_skew_s=None).records
        # Taken once; the first message, published before one the sink took, is dropped.
        assert gateway.take_published(ids[:3]) == {}
        assert list(gateway.take_published([ids[3]])) == [ids[3]]
        assert gateway._held_events == 0 and not gateway._held
    finally:
        gateway.stop()
        gateway.stop_store()


def test_no_store_holds_nothing_and_the_budget_drops_the_oldest(settings: Settings,
                                                                tmp_path: Path) -> None:
    worker, _ = _gateway(None)  # a worker beside a separate sink process
    try:
        message_id = worker.submit(_requests(settings, 1, 20)[0]).result(timeout=30).message_id
        assert message_id is not None and worker.take_published([message_id]) == {}
        assert worker._held_events == 0
    finally:
        worker.stop()
    with mock.patch.object(gateway_module, "_HELD_EVENTS", 60):
        gateway, _ = _gateway(tmp_path / "budget.duckdb")
        try:
            ids = [gateway.submit(b).result(timeout=30).message_id for b in _requests(settings, 4, 25)]
            assert gateway._held_events == 50  # 100 published, at most 60 held: the two newest
            assert sorted(gateway.take_published(ids)) == sorted(ids[2:])
        finally:
            gateway.stop()
            gateway.stop_store()
