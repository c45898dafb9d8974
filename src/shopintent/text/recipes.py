"""Which public data each default text model learns from, with fixed, written-down splits and seeds.

Why one module: the benchmark, the tests and ``load_default_parser`` must
train on exactly the same rows, and anyone reading a number must be able to
see where its split came from. Every function here returns plain lists (text,
label or spans) and never touches a test split while training.

Splits and seeds (all fixed):

- shop intents: Bitext official train/validation/test (27 intents). Out-of-scope
  examples: CLINC150's ``oos`` rows plus its in-scope queries from domains that
  are not shopping or payments (``NON_SHOP_DOMAINS``), 20 per intent from
  train / 5 from validation / 10 from test. 300 Chinese SMP2019 voice-assistant
  queries (seed ``SEED``) join the test split only, to measure zh rejection
  (training on them taught the head that Chinese itself is out-of-scope).
- zh sentiment: ``online_shopping_10_cats``, stratified by category × label,
  10 % test, seed ``SENTIMENT_SPLIT_SEED``; 10 % of the rest is validation.
- en sentiment: ``amazon_alexa_reviews``, stratified by label, 20 % test, same seed.
- zh NER: Ding et al. official train / dev / test.
- en slots: Bitext entity spans, official splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shopintent.schema import Span
from shopintent.settings import Settings

SEED = 13
SENTIMENT_SPLIT_SEED = 20_240_601
SENTIMENT_TEST_FRACTION = 0.10
ALEXA_TEST_FRACTION = 0.20
OOS = "oos"

#: CLINC150 domains with nothing to do with a shop's support desk (their queries are OOS for it).
NON_SHOP_DOMAINS = (
    "travel",
    "small_talk",
    "utility",
    "work",
    "meta",
    "kitchen_and_dining",
    "auto_and_commute",
)


@dataclass
class TextSplit:
    """Texts and labels of one split."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class SpanSplit:
    """Texts and their gold spans."""

    texts: list[str]
    spans: list[list[Span]]

    def __len__(self) -> int:
        return len(self.texts)


def _take(frame: pd.DataFrame, text: str = "text", label: str = "intent") -> TextSplit:
    return TextSplit(frame[text].astype(str).tolist(), frame[label].astype(str).tolist())


def shop_intent_splits(settings: Settings) -> dict[str, TextSplit]:
    """Bitext 27 intents + out-of-scope rows (CLINC non-shop/oos, SMP2019 zh), per split."""
    from shopintent.datasets import bitext_customer_service, clinc150, smp2019_zh_intent

    bitext = bitext_customer_service.load(settings).frame()
    clinc = clinc150.load(settings).frame()
    smp = smp2019_zh_intent.load(settings).frame()
    rng = np.random.default_rng(SEED)
    smp_order = rng.permutation(len(smp))
    # Chinese OOS rows go to test only: with no Chinese in-scope rows to balance them, training on
    # them teaches "Chinese means out-of-scope" (measured: every zh refund request rejected).
    smp_parts = {
        "train": smp.iloc[:0],
        "validation": smp.iloc[:0],
        "test": smp.iloc[smp_order[:300]],
    }
    per_intent = {"train": 20, "validation": 5, "test": 10}
    out: dict[str, TextSplit] = {}
    for split in ("train", "validation", "test"):
        own = _take(bitext[bitext["split"] == split])
        part = clinc[clinc["split"] == split]
        non_shop = part[part["domain"].isin(NON_SHOP_DOMAINS)]
        sampled = non_shop.groupby("intent", group_keys=False).apply(
            lambda g, n=per_intent[split]: g.sample(min(len(g), n), random_state=SEED)
        )
        oos_texts = (
            part.loc[part["intent"] == OOS, "text"].tolist()
            + sampled["text"].tolist()
            + smp_parts[split]["text"].tolist()
        )
        out[split] = TextSplit(own.texts + oos_texts, own.labels + [OOS] * len(oos_texts))
    return out


def bitext_splits(settings: Settings) -> dict[str, TextSplit]:
    """Bitext's official splits, intents only (the 'accuracy ≥ 0.99' benchmark row)."""
    from shopintent.datasets import bitext_customer_service

    frame = bitext_customer_service.load(settings).frame()
    return {s: _take(frame[frame["split"] == s]) for s in ("train", "validation", "test")}


def clinc_splits(settings: Settings) -> dict[str, TextSplit]:
    """CLINC150 official train / validation / test, ``oos`` rows included."""
    from shopintent.datasets import clinc150

    frame = clinc150.load(settings).frame()
    return {s: _take(frame[frame["split"] == s]) for s in ("train", "validation", "test")}


def smp_frame(settings: Settings) -> pd.DataFrame:
    """SMP2019 with the benchmark label ``domain.intent`` (the loader gives no split)."""
    from shopintent.datasets import smp2019_zh_intent

    frame = smp2019_zh_intent.load(settings).frame()
    frame = frame.assign(label=frame["domain"].astype(str) + "." + frame["intent"].astype(str))
    return frame[["text", "label"]].reset_index(drop=True)


def zh_sentiment_splits(settings: Settings) -> dict[str, TextSplit]:
    """online_shopping_10_cats: fixed stratified 10 % test (seed ``SENTIMENT_SPLIT_SEED``)."""
    from shopintent.datasets import online_shopping_10_cats

    frame = online_shopping_10_cats.load(settings).frame()
    strata = frame["category"] + "/" + frame["sentiment"]
    rest, test = train_test_split(
        frame, test_size=SENTIMENT_TEST_FRACTION, stratify=strata, random_state=SENTIMENT_SPLIT_SEED
    )
    train, valid = train_test_split(
        rest,
        test_size=0.10,
        stratify=rest["category"] + "/" + rest["sentiment"],
        random_state=SENTIMENT_SPLIT_SEED,
    )
    return {
        name: _take(part, label="sentiment")
        for name, part in (("train", train), ("validation", valid), ("test", test))
    }


def en_sentiment_splits(settings: Settings) -> dict[str, TextSplit]:
    """amazon_alexa_reviews: stratified 20 % test, 10 % of the rest validation (same seed)."""
    from shopintent.datasets import amazon_alexa_reviews

    frame = amazon_alexa_reviews.load(settings).frame()
    rest, test = train_test_split(
        frame,
        test_size=ALEXA_TEST_FRACTION,
        stratify=frame["sentiment"],
        random_state=SENTIMENT_SPLIT_SEED,
    )
    train, valid = train_test_split(
        rest, test_size=0.10, stratify=rest["sentiment"], random_state=SENTIMENT_SPLIT_SEED
    )
    return {
        name: _take(part, label="sentiment")
        for name, part in (("train", train), ("validation", valid), ("test", test))
    }


def zh_ner_splits(settings: Settings) -> tuple[dict[str, SpanSplit], dict[str, list[str]]]:
    """Ding et al. official splits and the gazetteers grouped as ``brand`` / ``product_type``."""
    from shopintent.datasets import zh_ecommerce_ner_ding2019

    data = zh_ecommerce_ner_ding2019.load(settings)
    splits = {
        s: SpanSplit(
            [q.text for q in data.queries if q.split == s],
            [list(q.spans) for q in data.queries if q.split == s],
        )
        for s in ("train", "validation", "test")
    }
    gazetteers = {
        "brand": [e for name, v in data.gazetteers.items() if name.startswith("brand") for e in v],
        "product_type": [
            e for name, v in data.gazetteers.items() if name.startswith("product") for e in v
        ],
    }
    return splits, gazetteers


def en_slot_splits(settings: Settings) -> dict[str, SpanSplit]:
    """Bitext entity spans (order_id, refund_amount, delivery_city, …), official splits."""
    from shopintent.datasets import bitext_customer_service

    data = bitext_customer_service.load(settings)
    return {
        s: SpanSplit(
            [q.text for q in data.queries if q.split == s],
            [list(q.spans) for q in data.queries if q.split == s],
        )
        for s in ("train", "validation", "test")
    }
