"""Fixed splits (written-down seeds) and the labelled-file reader's row-numbered errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.files import LabelledFileError, read_labelled_file


def test_online_shopping_test_split_is_a_fixed_stratified_tenth(session_settings: Settings) -> None:
    first = recipes.zh_sentiment_splits(session_settings)
    again = recipes.zh_sentiment_splits(session_settings)
    assert first["test"].texts == again["test"].texts  # seed written down in recipes
    total = sum(len(first[s]) for s in ("train", "validation", "test"))
    assert total == 62_773
    assert abs(len(first["test"]) - round(total * 0.10)) <= 1
    share = Counter(first["test"].labels)["positive"] / len(first["test"])
    assert 0.49 < share < 0.52  # the corpus is 50.5 % positive
    train_set = set(first["train"].texts)
    leaked = sum(t in train_set for t in first["test"].texts)
    assert leaked / len(first["test"]) < 0.05  # only the corpus's own duplicate reviews


def test_reader_accepts_tsv_and_jsonl_and_reports_empty_rows(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text(
        "text\tlabel\nwhere is my order\ttrack\n\tempty\nrefund pls\trefund\n", encoding="utf-8"
    )
    rows = read_labelled_file(tsv)
    assert rows.texts == ["where is my order", "refund pls"] and rows.labels == ["track", "refund"]
    assert rows.skipped == ["line 3: `text` is empty"]
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"q": "我要退货", "y": "refund"}\n\n{"q": "hi", "y": ""}\n', encoding="utf-8")
    rows = read_labelled_file(jsonl, "q", "y")
    assert rows.texts == ["我要退货"] and rows.skipped == ["line 3: `y` is empty"]


def test_reader_names_the_bad_line_of_a_jsonl_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "a"}\n{"text": broken\n', encoding="utf-8")
    with pytest.raises(LabelledFileError, match="line 2: not valid JSON"):
        read_labelled_file(bad)
    sheet = tmp_path / "export.xlsx"
    sheet.write_bytes(b"PK")
    with pytest.raises(LabelledFileError, match="unknown file type '.xlsx'"):
        read_labelled_file(sheet)
