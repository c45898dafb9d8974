"""ecd_taobao_dialogue_sample: real Taobao customer-service chats, response-selection layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import ecd_taobao_dialogue_sample as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.EcdSample:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["test.contexts"], found["skipped"]) == (1_308, 100, 0)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_first_test_line_is_the_positive_of_a_customer_first_chat(loaded: dataset.EcdSample) -> None:
    first = loaded.pair_at("test", 1)
    assert (first.split, first.label, len(first.context)) == ("test", 1, 3)
    assert first.context[0] == "我 去 不 早 说 发韵 达 能 到 我家 那儿 我 就 能 拿到"
    assert first.response == "发 邮政 的 哦"
    assert first.customer_turns() == [(0, first.context[0]), (2, "那要 怎样 这 也 不行 那 也 不行")]
    assert loaded.pair_at("test", 2).label == 0 and loaded.pair_at("test", 2).context == first.context


def test_customer_turns_are_the_even_positions_of_odd_length_contexts(
    loaded: dataset.EcdSample,
) -> None:
    frame = loaded.customer_frame()
    assert frame.groupby("split").size().to_dict() == {"test": 332, "train": 410, "validation": 410}
    assert (frame["turn"] % 2 == 0).all()
    assert all(len(p.context) % 2 == 1 for p in loaded.pairs)
    staff_words = ("亲", "客官")
    test_pos = loaded.positives("test")
    staff_side = sum(any(w in t for w in staff_words) for p in test_pos for t in p.context[1::2])
    customer_side = sum(any(w in t for w in staff_words) for p in test_pos for t in p.context[::2])
    assert staff_side > 5 * customer_side  # customers say 亲 too, but far less often


def test_unsegment_keeps_spaces_only_between_latin_or_digit_tokens() -> None:
    assert dataset.unsegment("可以 优惠价 么") == "可以优惠价么"
    assert dataset.unsegment("iphone 6 plus 的 壳 200 个") == "iphone 6 plus的壳200个"
    assert dataset.unsegment("  ") == ""


def test_bad_lines_are_skipped_with_their_line_number(tmp_path: Path) -> None:
    folder = tmp_path / dataset.SPEC.name
    folder.mkdir()
    (folder / "test").write_text("1\t你好\t您好\n2\t你好\t在\n1\t只有一段\n", encoding="utf-8")
    for name in ("train", "valid"):
        (folder / name).write_text("1\t在吗\t在的\n", encoding="utf-8")
    loaded = dataset.load(checks.offline_settings(tmp_path))
    assert [p.line for p in loaded.pairs if p.source_file == "test"] == [1]
    assert [s.where for s in loaded.skipped] == ["test line 2", "test line 3"]
    assert "label '2' is not 0 or 1" in loaded.skipped[0].reason


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
