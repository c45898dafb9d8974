"""Encoders: multilingual similarity works offline, and the disk cache answers repeats exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopintent.text.encoders import CachedEncoder, EmbeddingCache, USEEncoder, get_encoder


class _Counting:
    """Wraps an encoder and counts the texts it was asked to encode."""

    def __init__(self, inner: USEEncoder) -> None:
        self.inner, self.name, self.dim, self.seen = inner, inner.name, inner.dim, 0

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.seen += len(texts)
        return self.inner.encode(texts)


def test_use_puts_a_chinese_return_request_near_its_english_paraphrase(tmp_path: Path) -> None:
    encoder = get_encoder("use", tmp_path)
    vectors = encoder.encode(
        ["我要退货", "I want to return this item", "what is the weather tomorrow"]
    )
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1


def test_cache_returns_identical_vectors_without_re_encoding(tmp_path: Path) -> None:
    counting = _Counting(USEEncoder())
    texts = ["where is my parcel", "退款什么时候到账", "where is my parcel", ""]
    first = CachedEncoder(counting, EmbeddingCache(tmp_path / "e.sqlite")).encode(texts)
    assert counting.seen == 3  # duplicates encoded once
    fresh = CachedEncoder(counting, EmbeddingCache(tmp_path / "e.sqlite"))  # new process, same disk
    second = fresh.encode(texts)
    assert counting.seen == 3
    assert np.array_equal(first, second)
    assert np.array_equal(first[0], first[2])


def test_unknown_encoder_name_is_refused_with_the_choices() -> None:
    try:
        get_encoder("bert")
    except ValueError as exc:
        assert "use, use-int8, e5, minilm" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected ValueError")
