"""Language detection and text cleaning on the odd inputs shoppers send."""

from __future__ import annotations

from shopintent.text.clean import clean_text
from shopintent.text.language import detect_language


def test_detect_language_tells_zh_en_mixed_and_undetermined() -> None:
    assert detect_language("我要退货，怎么办") == "zh"
    assert detect_language("where is my order?") == "en"
    assert detect_language("iPhone 15 手机壳 red colour") == "mixed"
    assert detect_language("") == "und"
    assert detect_language("🙂🙂 123 !!!") == "und"


def test_detect_language_ignores_a_brand_name_inside_chinese() -> None:
    assert detect_language("华为手机壳防摔透明款 Mate") == "zh"


def test_clean_text_removes_control_characters_and_bounds_length() -> None:
    assert clean_text("退货\x00\x07 please\u200b\ufeff  now\n") == "退货 please now"
    assert len(clean_text("a" * 50_000)) == 2000
    assert clean_text(None) == ""
    assert clean_text("ＡＢＣ１２３") == "ABC123"  # full-width folded by NFKC


def test_clean_text_drops_lone_surrogates_instead_of_raising() -> None:
    assert clean_text("ok\ud800ok") == "okok"
