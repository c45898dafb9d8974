"""Row-wise protection (keyed ids, pseudonyms, scrubbed text) equals the table functions."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer, keyed_event_ids, protect_events, scrub_series
from shopintent.privacy.event_ids import canonical_content, keyed_event_ids_rows, row_content
from shopintent.privacy.events import protect_rows
from shopintent.privacy.plant import insert_pii, plant_pii
from shopintent.privacy.scrub import scrub_value
from shopintent.schema.validation import validate_events, validate_rows

P = Pseudonymizer(b"row-protection-test-key-32-bytes!!")


@pytest.fixture(scope="module")
def raw_rows(session_settings) -> list[dict[str, Any]]:
    """Real Taobao rows with client ids, sessions, planted PII and repeated clicks."""
    raw = taobao_userbehavior_head.read_raw(session_settings).head(300)
    rng = random.Random(3)
    rows = []
    for i, row in enumerate(raw.to_dict(orient="records")):
        if i % 3 == 0:
            row["event_id"] = f"order-{i}"
        if i % 4 == 0:
            row["session_id"] = f"web-{row['user_id']}"
        if i % 5 == 0:
            row["query"] = insert_pii("白色连衣裙 size M", plant_pii(rng, 1)[0], rng)
        rows.append(row)
    return rows + [dict(r) for r in rows[1:40:3]]  # identical clicks in the same batch


def _as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def test_row_content_equals_canonical_content(raw_rows) -> None:
    table = validate_events(raw_rows, max_future_skew_s=None).valid
    rows = validate_rows(raw_rows, max_future_skew_s=None).valid
    assert [row_content(r) for r in rows] == canonical_content(table).tolist()


@pytest.mark.parametrize("with_groups", [False, True])
def test_keyed_ids_of_rows_equal_the_tables(raw_rows, with_groups) -> None:
    table = validate_events(raw_rows, max_future_skew_s=None).valid
    rows = validate_rows(raw_rows, max_future_skew_s=None).valid
    groups = [i % 3 for i in range(len(rows))] if with_groups else None
    ids = keyed_event_ids_rows(rows, P, groups)
    assert ids == keyed_event_ids(table, P, groups).tolist()
    if with_groups:  # occurrence counts restart per request: a repeat in another one matches
        assert len(set(ids)) < len(ids)
    else:  # repeated clicks in one request keep distinct ids
        assert len(set(ids)) == len(ids)


def test_protect_rows_equals_protect_events(raw_rows) -> None:
    table = protect_events(validate_events(raw_rows, max_future_skew_s=None).valid, P)
    rows = protect_rows(validate_rows(raw_rows, max_future_skew_s=None).valid, P)
    assert rows == _as_records(table)
    queries = [r["query"] for r in rows if r["query"] is not None]
    assert queries and all(q.startswith("白色连衣裙") or "[" in q for q in queries)
    assert sum("[" in q for q in queries) == len(queries)  # every planted value masked


def test_scrub_value_equals_scrub_series_and_keeps_clean_text_itself() -> None:
    rng = random.Random(9)
    texts = [insert_pii("red dress size M", v, rng) for v in plant_pii(rng, 40)]
    texts += ["red dress", "iPhone 15 Pro Max 256GB", None, "连衣裙"]
    series = pd.Series(texts, dtype="string")
    assert [scrub_value(t) for t in texts] == [
        None if pd.isna(v) else v for v in scrub_series(series).tolist()]
    clean = "red dress"
    assert scrub_value(clean) is clean
