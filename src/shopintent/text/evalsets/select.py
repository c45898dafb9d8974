"""Which real shopper texts the real-text shop-intent test set holds: the sampling rules, as code.

Why code: the committed CSVs hold only references (file, line, turn) and
labels; a test re-runs these rules on the shared data and checks they give
exactly the committed rows, so anyone can see the set was drawn, not picked.

- zh (``ecd_taobao_dialogue_sample``): the customer's turns (even positions)
  of every positive line of ``test`` (each context once), then of ``train``
  as a supplement, because ``test`` yields only :data:`ZH_FROM_TEST_MAX`
  usable turns. A turn is usable when, after :func:`unsegment`, it has a
  Chinese character or a Latin letter (so no empty, emoji-only or
  pasted-number turns) and at most :data:`ZH_MAX_CHARS` characters; a text
  already taken (the same turn seen again in a longer context of the same
  chat, or a stock phrase like 你好) is taken once. All usable ``test`` turns
  are kept; ``train`` turns are drawn with :data:`SEED` until the set has
  :data:`ZH_ROWS` rows. Rows are then shuffled with the same seed.
- en (``amazon_qa``): :data:`EN_ROWS` products drawn with :data:`SEED` from
  every product of both categories; for each, one of its usable questions
  (a letter in it, at most :data:`EN_MAX_CHARS` characters) drawn with the
  same generator. The products are listed so a training run can exclude
  *every* question about them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from shopintent.datasets import amazon_qa, ecd_taobao_dialogue_sample
from shopintent.settings import Settings

SEED = 20_251_201
ZH_ROWS = 330
EN_ROWS = 330
ZH_MAX_CHARS = 60
EN_MAX_CHARS = 200
#: Usable customer turns in ECD ``test`` (all of them are in the set).
ZH_FROM_TEST_MAX = 298

_CJK_OR_LATIN = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One drawn text: where it is, its published text and that text's SHA-256."""

    source_dataset: str
    source_file: str
    source_locator: str
    product_id: str
    published_text: str

    @property
    def text_sha256(self) -> str:
        """SHA-256 of the text exactly as published (UTF-8)."""
        return text_sha256(self.published_text)


def text_sha256(text: str) -> str:
    """The hex SHA-256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def usable_zh(turn: str) -> bool:
    """Whether a (segmented) customer turn is kept: a Chinese or Latin letter, not too long."""
    joined = ecd_taobao_dialogue_sample.unsegment(turn)
    return bool(_CJK_OR_LATIN.search(joined)) and len(joined) <= ZH_MAX_CHARS


def usable_en(question: str) -> bool:
    """Whether a shopper question is kept: has a letter and at most ``EN_MAX_CHARS`` characters."""
    return bool(_LETTER.search(question)) and len(question.strip()) <= EN_MAX_CHARS


def zh_candidates(settings: Settings) -> list[Candidate]:
    """The zh rows, in set order (see the module docstring for the rule)."""
    sample = ecd_taobao_dialogue_sample.load(settings)
    seen: set[str] = set()
    pools: dict[str, list[Candidate]] = {"test": [], "train": []}
    for source_file in pools:
        for pair in sample.positives(source_file):
            for turn, text in pair.customer_turns():
                joined = ecd_taobao_dialogue_sample.unsegment(text)
                if not usable_zh(text) or joined in seen:
                    continue
                seen.add(joined)
                pools[source_file].append(
                    Candidate(
                        ecd_taobao_dialogue_sample.SPEC.name,
                        source_file,
                        f"line {pair.line} turn {turn}",
                        "",
                        text,
                    )
                )
    rng = np.random.default_rng(SEED)
    extra = ZH_ROWS - len(pools["test"])
    picked = rng.choice(len(pools["train"]), size=max(extra, 0), replace=False)
    rows = pools["test"] + [pools["train"][i] for i in sorted(picked)]
    return [rows[i] for i in rng.permutation(len(rows))]


def en_candidates(settings: Settings) -> list[Candidate]:
    """The en rows: one question each of ``EN_ROWS`` seeded products, in draw order."""
    by_product: dict[str, list[Candidate]] = {}
    for category, (file_name, _, _) in amazon_qa.CATEGORY_FILES.items():
        pairs, _, skipped = amazon_qa.read_category(category, settings)
        if skipped:
            raise ValueError(f"amazon_qa {file_name}: {len(skipped)} unreadable lines "
                             f"(first: {skipped[0].where}); line numbers would not hold")
        for number, pair in enumerate(pairs, start=1):
            if usable_en(pair.question):
                by_product.setdefault(pair.item_id, []).append(
                    Candidate(amazon_qa.SPEC.name, file_name, f"line {number}", pair.item_id,
                              pair.question)
                )
    products = sorted(by_product)
    rng = np.random.default_rng(SEED)
    chosen = rng.choice(len(products), size=EN_ROWS, replace=False)
    rows = []
    for index in chosen:
        questions = by_product[products[index]]
        rows.append(questions[int(rng.integers(len(questions)))])
    return rows


def candidates(settings: Settings, language: str) -> list[Candidate]:
    """The drawn rows of one language (``zh`` or ``en``)."""
    if language == "zh":
        return zh_candidates(settings)
    if language == "en":
        return en_candidates(settings)
    raise ValueError(f"language {language!r}: the real-text set has zh and en")
