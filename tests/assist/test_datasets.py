"""Q&A loaders: AmazonQA counts and checksums, a shop's file with bad rows named and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopintent.assist.datasets import load_amazon_qa, load_qa_file
from shopintent.assist.response_selection import load_chats
from shopintent.settings import Settings


def test_amazon_qa_has_both_categories_with_sources(session_settings: Settings) -> None:
    table = load_amazon_qa(session_settings)
    assert len(table) == 22_318
    assert [s["rows"] for s in table.sources] == [9_011, 13_307]
    assert all(len(s["sha256"]) == 64 and s["url"].startswith("https://") for s in table.sources)
    assert len(set(table.products)) == 1_153 + 1_188
    assert table.ids[0] == "Appliances:1" and table.answer_types.count("Y") == 1_655 + 2_928


def test_ecd_chats_put_the_true_reply_first(session_settings: Settings) -> None:
    test, train = load_chats("test", session_settings), load_chats("train", session_settings)
    assert (len(test), len(train)) == (100, 77)
    assert {len(c.candidates) for c in test} == {10} and {len(c.candidates) for c in train} == {2}
    assert " " not in test[0].candidates[0].replace("  ", "")[:5]  # unsegmented Chinese


def test_a_shop_file_names_and_counts_its_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    rows = [{"question": "Is it dishwasher safe?", "answer": "Yes, top rack.", "product_id": "p1"},
            {"question": "", "answer": "empty question", "product_id": "p1"},
            {"question": "你们发什么快递?", "answer": "默认韵达", "product_id": "p2"},
            {"question": "x" * 20_000, "answer": "too long", "product_id": "p2"},
            {"answer": "no question at all"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n", encoding="utf-8")
    table = load_qa_file(path)
    assert table.questions == ["Is it dishwasher safe?", "你们发什么快递?"]
    assert table.products == ["p1", "p2"]
    reasons = dict(table.bad_rows)
    assert set(reasons) == {"row 2", "row 4", "row 5", "row 6"}
    assert "`question` is empty" in reasons["row 2"] and "20,000 characters" in reasons["row 4"]
    assert "`question` is missing" in reasons["row 5"] and "not JSON" in reasons["row 6"]


def test_a_file_without_the_named_column_is_refused_with_the_columns_it_has(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("q,a\nhi,hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no `question` column.*columns are a, q"):
        load_qa_file(path)
