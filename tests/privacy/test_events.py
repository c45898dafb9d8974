"""protect_events: keyed user, session and event ids; every free-text column scrubbed."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import structlog

from shopintent.log import configure_logging
from shopintent.privacy import TEXT_COLUMNS, Pseudonymizer, keyed_event_ids, protect_events
from shopintent.schema.validation import EVENT_COLUMNS, validate_events

KEY = b"events-test-key-9d2e-at-least-32-bytes"


def _events() -> pd.DataFrame:
    rows = [
        {"event_id": "e1", "user_id": "1000001", "session_id": "s-1",
         "timestamp": "2023-11-23T10:00:00Z", "event_type": "search",
         "query": "我的手机号是138 0013 8000，订单号123456789012，地址是北京市朝阳区建国路88号"},
        {"event_id": "e2", "user_id": "1000001", "session_id": "s-1",
         "timestamp": "2023-11-23T10:01:00Z", "event_type": "view", "item_id": "i9",
         "category_id": "c3", "price": "199.00"},
        {"event_id": "e3", "user_id": "jane", "session_id": None,
         "timestamp": "2023-11-23T10:02:00Z", "event_type": "search",
         "query": "Call me at +1 (415) 555-0132 or mail jane.doe@example.com"},
        {"event_id": "e4", "user_id": "42", "session_id": "42",
         "timestamp": "2023-11-23T10:03:00Z", "event_type": "purchase", "item_id": "i9",
         "price": "49.99", "quantity": "2"},
        {"event_id": "e5", "user_id": "jane", "session_id": "s-2",
         "timestamp": "2023-11-23T10:04:00Z", "event_type": "search",
         "query": "iPhone 15 Pro Max 256GB 200元以内"},
    ]
    report = validate_events(rows)
    assert not report.rejections
    return report.valid


def test_ids_are_pseudonymised_and_queries_scrubbed() -> None:
    frame = _events()
    p = Pseudonymizer(KEY)
    out = protect_events(frame, p)

    assert out["user_id"].tolist() == [p.pseudonymize(u) for u in frame["user_id"]]
    assert out["user_id"][0] == out["user_id"][1] != out["user_id"][2]
    assert out["session_id"].isna().tolist() == [False, False, True, False, False]
    assert out["session_id"][0] == p.pseudonymize("s-1", namespace="session")
    assert out["session_id"][3] != out["user_id"][3]  # user "42" and session "42" differ
    assert out["query"][0] == "我的手机号是[PHONE]，订单号123456789012，地址是[ADDRESS]"
    assert out["query"][2] == "Call me at [PHONE] or mail [EMAIL]"
    assert out["query"][4] == "iPhone 15 Pro Max 256GB 200元以内"
    assert out["query"].isna().tolist() == frame["query"].isna().tolist()


def test_event_ids_are_keyed_pseudonyms_of_the_client_ids() -> None:
    frame = _events()
    p = Pseudonymizer(KEY)
    out = protect_events(frame, p)
    assert out["event_id"].tolist() == [p.pseudonymize(e, "event", length=32)
                                         for e in frame["event_id"]]
    assert out["event_id"].str.fullmatch(r"e_[0-9a-f]{32}").all()
    assert not set(out["event_id"]) & set(frame["event_id"])
    pd.testing.assert_series_equal(out["event_id"], keyed_event_ids(frame, p))


def test_every_free_text_column_is_scrubbed_not_only_the_query() -> None:
    assert TEXT_COLUMNS == ("item_id", "category_id", "query")
    rows = [{"user_id": "1", "timestamp": "2023-11-23T10:00:00Z", "event_type": "view",
             "item_id": "jane.doe@example.com", "category_id": "13800138000"},
            {"user_id": "1", "timestamp": "2023-11-23T10:01:00Z", "event_type": "view",
             "item_id": "sku-77", "category_id": "c3"}]
    out = protect_events(validate_events(rows).valid, Pseudonymizer(KEY))
    assert out["item_id"].tolist() == ["[EMAIL]", "sku-77"]
    assert out["category_id"].tolist() == ["[PHONE]", "c3"]


def test_other_columns_dtypes_and_input_are_unchanged() -> None:
    frame = _events()
    before = frame.copy()
    out = protect_events(frame, Pseudonymizer(KEY))
    assert out is not frame
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert {c: str(t) for c, t in out.dtypes.items()} == EVENT_COLUMNS
    untouched = ["timestamp", "event_type", "price", "quantity", "item_id", "category_id"]
    pd.testing.assert_frame_equal(out[untouched], frame[untouched])  # these ids held no PII
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_index_equal(out.index, frame.index)


def test_empty_frame() -> None:
    empty = validate_events([]).valid
    out = protect_events(empty, Pseudonymizer(KEY))
    assert len(out) == 0
    assert out.dtypes.to_dict() == empty.dtypes.to_dict()


def test_pseudonyms_change_with_the_key() -> None:
    frame = _events()
    a = protect_events(frame, Pseudonymizer(KEY))
    b = protect_events(frame, Pseudonymizer(KEY + b"-rotated"))
    assert not set(a["user_id"]) & set(b["user_id"])
    pd.testing.assert_series_equal(a["query"], b["query"])


def test_frame_without_canonical_columns_is_rejected() -> None:
    with pytest.raises(ValueError, match="session_id"):
        protect_events(pd.DataFrame({"event_id": ["e"], "user_id": ["1"], "query": ["x"]}),
                       Pseudonymizer(KEY))
    bad = _events().assign(user_id=1)
    with pytest.raises(TypeError, match="user_id"):
        protect_events(bad, Pseudonymizer(KEY))


@pytest.mark.parametrize("json", [False, True])
def test_key_and_raw_data_never_reach_the_logs(
    json: bool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG", json=json)
    try:
        with caplog.at_level(logging.DEBUG):
            p = Pseudonymizer(KEY)
            protect_events(_events(), p)
            logging.getLogger("shopintent").debug("pseudonymizer in use: %s %r", p, p)
        captured = capsys.readouterr()
        logged = captured.out + captured.err + caplog.text
        assert "events protected" in logged  # the logger did run
        for secret in (KEY.decode(), KEY.hex(), "138 0013 8000", "jane.doe@example.com",
                       "1000001", "s-1"):
            assert secret not in logged
    finally:
        structlog.reset_defaults()  # leave logging as an unconfigured library finds it
