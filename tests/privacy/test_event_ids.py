"""Keyed event ids: one id per event whatever its spelling, the path it came by or its batch."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from shopintent.privacy import Pseudonymizer, keyed_event_ids
from shopintent.privacy.event_ids import canonical_content
from shopintent.schema.validation import validate_events

KEY = b"event-ids-test-key-at-least-32-bytes!"
BUY = {"user_id": "1000001", "timestamp": "2017-12-03T10:00:00Z", "event_type": "buy",
       "item_id": "7", "category_id": "4", "price": "9.50", "quantity": "2"}


def _valid(rows: list[dict]) -> pd.DataFrame:
    report = validate_events(rows)
    assert not report.rejections, report.rejections
    return report.valid


def test_the_same_event_spelled_differently_gets_one_id() -> None:
    spellings = [
        BUY,
        {**BUY, "timestamp": 1512295200, "event_type": "purchase", "price": 9.5, "quantity": 2},
        {**BUY, "timestamp": "2017-12-03T18:00:00+08:00", "user_id": " 1000001 "},
        {**BUY, "timestamp": "2017-12-03 10:00:00.000000Z", "price": "9.500"},
    ]
    ids = keyed_event_ids(_valid(spellings), Pseudonymizer(KEY), groups=[0, 1, 2, 3])
    assert ids.nunique() == 1
    assert ids[0].startswith("e_") and len(ids[0]) == 2 + 32


def test_content_id_is_the_documented_hmac() -> None:
    frame = _valid([BUY])
    content = canonical_content(frame)[0]
    assert content == "7=1000001|-|16=1512295200000000|8=purchase|1=7|1=4|-|3=9.5|1=2"
    mac = hmac.new(KEY, b"event_content\x00" + (content + "|#0").encode(), hashlib.sha256)
    assert keyed_event_ids(frame, Pseudonymizer(KEY))[0] == "e_" + mac.hexdigest()[:32]


def test_repeats_within_a_request_are_kept_and_a_resent_request_is_a_duplicate() -> None:
    p = Pseudonymizer(KEY)
    twice = keyed_event_ids(_valid([BUY, BUY]), p)
    assert twice[0] != twice[1]
    # Two requests in one write group: occurrences count per request.
    grouped = keyed_event_ids(_valid([BUY, BUY, BUY]), p, groups=[0, 0, 1])
    assert grouped.tolist() == [twice[0], twice[1], twice[0]]


def test_different_events_keys_and_client_ids_give_different_ids() -> None:
    p = Pseudonymizer(KEY)
    base = keyed_event_ids(_valid([BUY]), p)[0]
    assert keyed_event_ids(_valid([{**BUY, "price": "9.51"}]), p)[0] != base
    assert keyed_event_ids(_valid([BUY]), Pseudonymizer(KEY + b"2"))[0] != base
    # A client id that spells the content is still a different id (separate namespaces).
    content = canonical_content(_valid([BUY]))[0] + "|#0"
    assert keyed_event_ids(_valid([{**BUY, "event_id": content}]), p)[0] != base


def test_field_boundaries_cannot_be_forged() -> None:
    p = Pseudonymizer(KEY)
    a = {**BUY, "item_id": "7|1=4", "category_id": None}
    b = {**BUY, "item_id": "7", "category_id": "4"}
    c = {**BUY, "item_id": "1=7|1=4|-", "category_id": None, "price": None}
    d = {**BUY, "item_id": "7", "category_id": "4|-"}
    ids = keyed_event_ids(_valid([a, b, c, d]), p, groups=[0, 1, 2, 3])
    assert ids.nunique() == 4


def test_client_ids_are_pseudonymised_and_rows_keep_their_index() -> None:
    p = Pseudonymizer(KEY)
    frame = _valid([{**BUY, "event_id": "jane-order-7"}, BUY])
    frame.index = [10, 11]
    ids = keyed_event_ids(frame, p)
    assert list(ids.index) == [10, 11]
    assert ids[10] == p.pseudonymize("jane-order-7", "event", length=32)
    assert "jane" not in ids[10]
    with pytest.raises(ValueError, match="groups has 1 labels for 2 rows"):
        keyed_event_ids(frame, p, groups=[0])
