"""Text is read in its NFKC form and every span maps back onto the characters as typed."""

from __future__ import annotations

import doctest

import pytest

from shopintent.privacy import normalise as normalise_module
from shopintent.privacy.normalise import normalise, normalise_by_character


def test_module_examples_hold() -> None:
    assert doctest.testmod(normalise_module).failed == 0


def test_ascii_and_plain_chinese_text_are_returned_as_they_are() -> None:
    for text in ("call me at 415-555-0132", "想买一件白色连衣裙，谢谢！"):
        normalised = normalise(text)
        assert normalised.text is text
        assert normalised.original_span(1, 3) == (1, 3)


def test_full_width_digits_letters_and_at_sign_become_ascii() -> None:
    assert normalise("电话１３８－００１３").text == "电话138-0013"
    assert normalise("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ").text == "jane@example.com"
    assert normalise("（０１０）").text == "(010)"


def test_punctuation_no_rule_reads_stays_as_typed() -> None:
    assert normalise("好，谢谢！１２").text == "好，谢谢！12"


def test_dashes_fold_and_invisible_characters_drop() -> None:
    text = "138\u20140013\u200b8000"
    normalised = normalise(text)
    assert normalised.text == "138-00138000"
    assert normalised.original_span(0, len(normalised.text)) == (0, len(text))


@pytest.mark.parametrize(
    ("text", "span", "original"),
    [
        ("重量５㎏，电话１３８", (8, 11), (7, 10)),  # ㎏ -> kg: two normalised characters
        ("１ｘ２", (1, 2), (1, 2)),
        ("a\u200b1", (1, 2), (2, 3)),  # the dropped character is not part of the span
    ],
)
def test_spans_map_back_onto_the_original_characters(
    text: str, span: tuple[int, int], original: tuple[int, int]
) -> None:
    normalised = normalise(text)
    assert normalised.original_span(*span) == original


def test_a_span_inside_an_expansion_grows_to_the_whole_character() -> None:
    normalised = normalise("５㎏")  # "5kg"
    assert normalised.original_span(2, 3) == (1, 2)  # "g" -> the whole "㎏"


def test_astral_characters_take_the_per_character_path() -> None:
    text = "😀 电话 𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎"
    normalised = normalise(text)
    assert normalised.text == "😀 电话 13800138000"
    assert normalised == normalise_by_character(text)
    start = normalised.text.index("1")
    assert normalised.original_span(start, start + 11) == (5, 16)
