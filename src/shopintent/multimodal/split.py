"""Stratified, seeded split of products by id — the one split every multimodal result uses.

Why one function: the heads, the contrastive search and attribute filling
must all be scored on the same held-out products, so nothing trained on a
test product's image or title leaks into another result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shopintent.multimodal.fashion import MIN_CLASS_IMAGES

TEST_FRACTION = 0.2


def kept_classes(labels: pd.Series, min_count: int = MIN_CLASS_IMAGES) -> set[str]:
    """Classes with at least ``min_count`` products (rarer ones cannot be learnt or scored fairly)."""
    counts = labels.value_counts()
    return set(counts[counts >= min_count].index)


def split_ids(
    ids: pd.Series, strata: pd.Series, seed: int, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (train, test) masks over products: random by id, stratified by ``strata``, seeded.

    Strata rarer than 2 products are pooled into one stratum so that stratification is possible.
    """
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise ValueError(f"product id {dup!r} appears more than once; ids must be unique")
    counts = strata.value_counts()
    pooled = strata.where(strata.map(counts) >= 2, "__rare__").astype(str)
    if (pooled == "__rare__").sum() == 1:
        pooled = pooled.replace("__rare__", pooled.mode().iloc[0])
    index = np.arange(len(ids))
    train, test = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=pooled)
    train_mask = np.zeros(len(ids), dtype=bool)
    train_mask[train] = True
    return train_mask, ~train_mask
