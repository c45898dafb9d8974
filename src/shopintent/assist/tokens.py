"""Lexical tokens for zh + en text: Latin words and Chinese character uni- and bigrams.

Why: BM25 needs words, and Chinese has no spaces. Character bigrams are the
classic, dictionary-free choice for Chinese retrieval (they catch most two-
character words) and unigrams keep single-character matches; Latin text is
lower-cased words with English stop words removed, so one tokenizer serves a
mixed zh/en shop FAQ.

>>> tokenize("Does it fit 的手机壳?")
['fit', '的', '手', '机', '壳', '的手', '手机', '机壳']
"""

from __future__ import annotations

import re

from bm25s.stopwords import STOPWORDS_EN

_LATIN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOP = frozenset(STOPWORDS_EN) | {"does", "do", "can", "will", "would", "i", "you", "my", "me"}


def tokenize(text: str) -> list[str]:
    """The BM25 tokens of one text (empty list for text without words)."""
    lowered = text.lower()
    words = [w for w in _LATIN.findall(lowered) if w not in _STOP]
    for run in _CJK_RUN.findall(lowered):
        words.extend(run)
        words.extend(run[i : i + 2] for i in range(len(run) - 1))
    return words
