"""amazon_qa: 22,318 Amazon product questions and answers as QAPair records."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopintent.datasets import amazon_qa as dataset
from shopintent.schema import QAPair
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.AmazonQA:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert found["rows"] == 22_318 and found["skipped"] == 0
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_pairs_are_canonical_records(loaded: dataset.AmazonQA) -> None:
    assert [len(loaded[c]) for c in ("Appliances", "Video_Games")] == [9_011, 13_307]
    assert loaded["Appliances"][0] == QAPair(
        item_id="B00004U9JP",
        question="I have a 9 year old Badger 1 that needs replacing, will this Badger 1 "
        "install just like the original one?",
        answer="I replaced my old one with this without a hitch.",
        question_type="yes/no",
        answer_type="?",
        timestamp=datetime(2014, 6, 27, 7, 0, tzinfo=UTC),
    )
    pairs = loaded.all_pairs()
    assert all(p.question.strip() and p.answer.strip() and p.item_id for p in pairs)
    for pair in pairs:
        if pair.question_type == "yes/no":
            assert pair.answer_type in {"Y", "N", "?"}
        else:
            assert pair.question_type == "open-ended" and pair.answer_type is None


def test_relative_answer_times_give_no_timestamp(loaded: dataset.AmazonQA) -> None:
    frame = loaded.frame()
    undated = frame[frame["timestamp"].isna()]
    assert len(undated) == 421 + 621
    assert undated["answer_time"].str.fullmatch(r"\d+ days? ago").all()
    dated = frame["timestamp"].dropna()
    assert dated.dt.hour.isin([7, 8]).all()  # midnight US Pacific


def test_lines_are_parsed_as_literals_never_as_code(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Python literal"):
        dataset.parse_record("__import__('os').system('echo pwned')")
    with pytest.raises(ValueError, match="missing or non-text answer"):
        dataset.parse_record("{'asin': 'B1', 'question': 'q?', 'questionType': 'open-ended'}")
    good = ("{'asin': 'B1', 'question': 'Fits?', 'answer': 'Yes', 'questionType': 'yes/no', "
            "'answerType': 'Y', 'answerTime': 'Jan 1, 2014', 'unixTime': 1388563200}\n")
    folder = tmp_path / "amazon_qa"
    folder.mkdir()
    for name, lines in (("qa_Appliances.json.gz", good + "{'asin': \n"),
                        ("qa_Video_Games.json.gz", good)):
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            handle.write(lines)
    loaded = dataset.load(checks.offline_settings(tmp_path))
    assert [len(loaded[c]) for c in ("Appliances", "Video_Games")] == [1, 1]
    assert [s.where for s in loaded.skipped] == ["qa_Appliances.json.gz line 2"]


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
