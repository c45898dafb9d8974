"""Small slices of the real data sets, for the runnable examples in the estimators' docstrings.

Why: an example a reader can run teaches the shape of an estimator better
than prose, and one run on real shop data shows what its output looks like
(scikit-learn's ``load_iris``, river's ``datasets``). Each slice is read
through the data set's own loader from ``Settings().data_dir``
(``SHOPINTENT_DATA_DIR``; a missing file raises the loader's message naming
it) and cached for the process, so a docstring example costs its fit, not a
reload. The slices are small on purpose: every example runs in about a
second on one CPU core.

>>> texts, labels = clinc_slice().train
>>> len(texts), sorted(set(labels))[:3]
(450, ['accept_reservations', 'account_blocked', 'alarm'])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shopintent.settings import Settings

if TYPE_CHECKING:
    from shopintent.intervene.feedback import LoggedFeedback
    from shopintent.schema.records import InteractionSequence, Item, Span

__all__ = ["TextSlice", "cdnow_customers", "clinc_slice", "ner_slice", "obd_feedback", "taobao_sequences",
           "taobao_sessions", "uci_sessions"]


@dataclass(frozen=True)
class TextSlice:
    """``(texts, labels)`` pairs of a labelled text slice: ``train``, ``validation`` and ``test``."""

    train: tuple[list[str], list[str]]
    validation: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]


@lru_cache(maxsize=4)
def clinc_slice(n_intents: int = 8, per_intent: int = 50) -> TextSlice:
    """CLINC150: the first ``n_intents`` intents (alphabetical) plus ``oos``, ``per_intent`` train rows each.

    Validation and test keep every row of those intents (and ``oos``) from their official splits.
    """
    from shopintent.datasets import clinc150

    queries = clinc150.load(Settings()).queries
    keep = sorted({q.intent for q in queries if q.intent != "oos"})[:n_intents]
    keep_set = set(keep) | {"oos"}
    taken: dict[str, int] = {}
    parts: dict[str, tuple[list[str], list[str]]] = {s: ([], []) for s in ("train", "validation", "test")}
    for q in queries:
        if q.intent not in keep_set:
            continue
        if q.split == "train":
            taken[q.intent] = taken.get(q.intent, 0) + 1
            if taken[q.intent] > per_intent:
                continue
        parts[q.split][0].append(q.text)
        parts[q.split][1].append(q.intent)
    return TextSlice(parts["train"], parts["validation"], parts["test"])


@lru_cache(maxsize=2)
def ner_slice(n_train: int = 300) -> tuple[list[str], list[list[Span]], list[str], list[list[Span]]]:
    """Chinese e-commerce NER (Ding et al. 2019): ``n_train`` train queries and 100 test queries with spans."""
    from shopintent.datasets import zh_ecommerce_ner_ding2019

    queries = zh_ecommerce_ner_ding2019.load(Settings()).queries
    train = [q for q in queries if q.split == "train"][:n_train]
    test = [q for q in queries if q.split == "test"][:100]
    return ([q.text for q in train], [list(q.spans) for q in train],
            [q.text for q in test], [list(q.spans) for q in test])


@lru_cache(maxsize=2)
def taobao_sessions(n_events: int = 20_000) -> pd.DataFrame:
    """The first ``n_events`` in-window Taobao events, sessionised (30-minute gap)."""
    from shopintent.store import sessionise_frame

    events = _taobao_events()
    return sessionise_frame(events.iloc[:n_events].reset_index(drop=True), 30.0)


@lru_cache(maxsize=1)
def _taobao_events() -> pd.DataFrame:
    from shopintent.datasets import taobao_userbehavior_head

    return taobao_userbehavior_head.load(Settings()).events


@lru_cache(maxsize=2)
def taobao_sequences(n_events: int = 15_000) -> tuple[list[InteractionSequence], dict[str, Item]]:
    """Sessions of the first ``n_events`` Taobao events as item sequences, and the items' categories."""
    from shopintent.recommend.data import items_from_events, sequences_from_events

    part = _taobao_events().iloc[:n_events]
    return sequences_from_events(part, by="session"), items_from_events(part)


@lru_cache(maxsize=2)
def uci_sessions(n_rows: int = 2000) -> tuple[pd.DataFrame, np.ndarray]:
    """UCI Online Shoppers: aggregated-session features and purchase labels of the first ``n_rows`` sessions."""
    from shopintent.behaviour.uci import uci_features
    from shopintent.datasets import uci_online_shoppers

    X, y = uci_features(uci_online_shoppers.load(Settings()), page_values=False)
    return X.iloc[:n_rows], np.asarray(y[:n_rows])


@lru_cache(maxsize=2)
def cdnow_customers(n_customers: int = 3000) -> tuple[pd.DataFrame, pd.Series]:
    """CDNOW: per-customer features before 1997-10-01 and purchase days to 1998-07-01 (first ``n_customers``)."""
    from shopintent.behaviour.repeat import customer_features, daily_purchases, holdout_counts
    from shopintent.datasets import cdnow

    cutoff, end = pd.Timestamp("1997-10-01", tz="UTC"), pd.Timestamp("1998-07-01", tz="UTC")
    days = daily_purchases(cdnow.load(Settings()).events)
    features = customer_features(days, cutoff).iloc[:n_customers]
    return features, holdout_counts(days, features.index, cutoff, end)


@lru_cache(maxsize=2)
def obd_feedback(n_rounds: int = 4000) -> LoggedFeedback:
    """Open Bandit Dataset (men, uniform-random policy): the first ``n_rounds`` logged rounds."""
    from shopintent.datasets import obd_sample
    from shopintent.intervene.obd import ObdEncoder

    data = obd_sample.load(Settings())
    encoder = ObdEncoder().fit([data["random"].feedback, data["bts"].feedback])
    return encoder.transform(data["random"].feedback, "random").subset(np.arange(n_rounds))
