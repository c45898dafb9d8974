"""The early-prediction curve: how well a model ranks sessions after only k events.

Requena et al. (2020, "Shopper intent prediction from clickstream e-commerce
data with minimal browsing information") report AUC against the number of
events seen; the same curve here is computed per prefix length on held-out
rows, so a model that needs long sessions to be useful shows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def early_curve(rows: pd.DataFrame, label: str, scores: np.ndarray, ks: range = range(1, 11)
                ) -> list[dict[str, float]]:
    """ROC-AUC of ``scores`` among ``rows`` with prefix length k, for each k.

    A k whose rows hold one class only gets ``nan`` (AUC is undefined there).
    """
    curve = []
    k_values = rows["k"].to_numpy()
    y = rows[label].to_numpy()
    for k in ks:
        mask = k_values == k
        n, n_pos = int(mask.sum()), int(y[mask].sum())
        auc = float(roc_auc_score(y[mask], scores[mask])) if 0 < n_pos < n else float("nan")
        curve.append({"k": k, "n": n, "positives": n_pos, "roc_auc": auc})
    return curve
