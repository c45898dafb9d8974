"""Shared, module-cheap fixtures for the text tests: small real-data subsets, trained once per session."""

from __future__ import annotations

import pytest

from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.intent import IntentClassifier
from shopintent.text.tagger import SlotTagger


def _subset(split: recipes.TextSplit, keep: set[str], per_label: int) -> recipes.TextSplit:
    seen: dict[str, int] = {}
    texts, labels = [], []
    for text, label in zip(split.texts, split.labels, strict=True):
        if label in keep and seen.get(label, 0) < per_label:
            seen[label] = seen.get(label, 0) + 1
            texts.append(text)
            labels.append(label)
    return recipes.TextSplit(texts, labels)


@pytest.fixture(scope="session")
def clinc_small(session_settings: Settings) -> dict[str, recipes.TextSplit]:
    """CLINC150 restricted to 15 intents (+ oos): 40 train / 20 validation / 30 test per intent, 200 oos test rows."""
    splits = recipes.clinc_splits(session_settings)
    intents = sorted({label for label in splits["train"].labels if label != "oos"})[::10] + ["oos"]
    keep = set(intents)
    return {
        "train": _subset(splits["train"], keep, 40),
        "validation": _subset(splits["validation"], keep, 20),
        "test": _subset(splits["test"], keep, 200),  # 30 per intent, 200 oos
    }


@pytest.fixture(scope="session")
def clinc_model(
    session_settings: Settings, clinc_small: dict[str, recipes.TextSplit]
) -> IntentClassifier:
    """The default IntentClassifier (USE + TF-IDF) fitted on the CLINC subset."""
    return IntentClassifier(cache_dir=session_settings.state_dir).fit(
        clinc_small["train"].texts,
        clinc_small["train"].labels,
        clinc_small["validation"].texts,
        clinc_small["validation"].labels,
    )


@pytest.fixture(scope="session")
def en_tagger(session_settings: Settings) -> SlotTagger:
    """Word-mode tagger on 1,500 Bitext training rows, 2 epochs."""
    splits = recipes.en_slot_splits(session_settings)
    train = splits["train"]
    return SlotTagger(mode="word", epochs=2, hidden_dim=64, random_state=0).fit(
        train.texts[::4], train.spans[::4]
    )
