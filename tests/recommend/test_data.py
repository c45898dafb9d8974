"""Sequences from the formats a shop brings: seqtxt lines and canonical event logs (real Taobao/Diginetica)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from shopintent.datasets import diginetica_sample
from shopintent.recommend.data import (
    ItemIndex,
    items_from_events,
    read_attributes,
    read_seqtxt,
    sequences_checksum,
    sequences_from_events,
)


def test_item_index_reserves_zero_for_padding_and_drops_unknown_items() -> None:
    index = ItemIndex(["b", "a", "b", "c"])
    assert index.ids == ["b", "a", "c"] and index.size == 4
    assert index.encode(["a", "zz", "c"]).tolist() == [2, 3]
    assert index.get("zz") == 0 and index.decode(1) == "b"
    with pytest.raises(IndexError):
        index.decode(0)


def test_seqtxt_reader_names_the_bad_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "s.txt"
    good.write_text("u1 a b c\n\nu2 d e\n")
    seqs = read_seqtxt(good)
    assert [(s.user_id, s.items) for s in seqs] == [("u1", ("a", "b", "c")), ("u2", ("d", "e"))]
    bad = tmp_path / "bad.txt"
    bad.write_text("u1 a b\nu2\n")
    with pytest.raises(ValueError, match="line 2"):
        read_seqtxt(bad)


def test_attribute_reader_rejects_non_lists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "attrs.json"
    path.write_text('{"1": [3, 4], "2": 5}')
    with pytest.raises(ValueError, match="item '2'"):
        read_attributes(path)
    path.write_text('{"1": [3, 4]}')
    assert read_attributes(path)["1"].attributes == ("3", "4")


def test_events_split_into_sessions_at_the_gap_and_collapse_back_to_back_repeats() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    events = pd.DataFrame({
        "user_id": ["u"] * 5 + ["v"],
        "timestamp": [t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=2),
                      t0 + timedelta(minutes=90), t0 + timedelta(minutes=91), t0],
        "item_id": ["a", "a", "b", "c", None, "x"],
        "event_type": ["view", "add_to_cart", "view", "view", "search", "view"],
    })
    by_session = sequences_from_events(events, by="session", gap_minutes=30)
    assert [s.items for s in by_session] == [("a", "b"), ("c",), ("x",)]
    by_user = sequences_from_events(events, by="user")
    assert [s.items for s in by_user] == [("a", "b", "c"), ("x",)]


def test_taobao_and_diginetica_events_become_sequences(settings, taobao_events) -> None:  # type: ignore[no-untyped-def]
    taobao = taobao_events
    users = sequences_from_events(taobao, by="user")
    assert len(users) == 815
    assert all(a != b for s in users for a, b in zip(s.items, s.items[1:]))
    sessions = sequences_from_events(taobao, by="session", gap_minutes=30)
    assert len(sessions) > 5 * len(users)
    items = items_from_events(taobao)
    assert len(items) == taobao["item_id"].nunique()
    digi_events = diginetica_sample.load(settings).events
    digi = sequences_from_events(digi_events, by="session")
    assert len(digi) == 2_986
    assert sequences_checksum(digi) == sequences_checksum(sequences_from_events(digi_events, by="session"))
