"""Counts that leave the system, released with differential privacy (diffprivlib's geometric mechanism).

What is protected: one *shopper* (a row of the released table's unit). Each
count is of distinct shoppers, so adding or removing one shopper moves it by
at most 1 (sensitivity 1). Budget, by composition: the stages of a funnel
count the same shoppers, so ε is split evenly across them; segment sizes
count disjoint shoppers (one segment each), so each gets the whole ε; a
per-group rate is two counts of the same shoppers (numerator and
denominator), ε/2 each, groups disjoint. Released counts are integers from
the two-sided geometric mechanism, clamped at 0 (post-processing costs no
privacy); the noise added is shown beside each count.

diffprivlib 0.6.6 imports its ``models`` package (which needs a scikit-learn
internal, ``sklearn.tree._tree.DOUBLE``, that scikit-learn 1.8 removed) when
the package is imported; the mechanisms need none of it, so the import below
stands a placeholder in for ``diffprivlib.models`` while it loads.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The ε values whose error is measured (the issue's grid).
EPSILONS: tuple[float, ...] = (0.1, 1.0, 10.0)


def geometric(epsilon: float, seed: int | None) -> Any:
    """diffprivlib's two-sided geometric mechanism, sensitivity 1."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon!r}")
    placeholder = "diffprivlib.models" not in sys.modules and "diffprivlib" not in sys.modules
    if placeholder:
        sys.modules["diffprivlib.models"] = types.ModuleType("diffprivlib.models")
    try:
        from diffprivlib.mechanisms import Geometric
    finally:
        if placeholder:
            sys.modules.pop("diffprivlib.models", None)
    return Geometric(epsilon=epsilon, sensitivity=1, random_state=seed)


@dataclass
class Release:
    """Exact and released counts of one table, with the noise and the ε each count used."""

    name: str
    epsilon: float
    table: pd.DataFrame

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "epsilon": self.epsilon, "rows": self.table.to_dict(orient="records")}


def release_counts(name: str, counts: Mapping[str, int], epsilon: float, composition: str,
                   seed: int | None = None) -> Release:
    """Release ``counts`` under total ``epsilon``; ``composition``: ``sequential`` (same shoppers: ε split)
    or ``parallel`` (disjoint shoppers: each gets ε)."""
    if composition not in ("sequential", "parallel"):
        raise ValueError(f"composition {composition!r} must be 'sequential' or 'parallel'")
    bad = [k for k, v in counts.items() if int(v) != v or v < 0]
    if bad:
        raise ValueError(f"count {bad[0]!r} is {counts[bad[0]]!r}: counts must be non-negative integers")
    each = epsilon / len(counts) if composition == "sequential" else epsilon
    mechanism = geometric(each, seed)
    rows = []
    for key, exact in counts.items():
        noisy = int(mechanism.randomise(int(exact)))
        released = max(noisy, 0)
        rows.append({"count": key, "exact": int(exact), "released": released, "noise": noisy - int(exact),
                     "epsilon": each})
    return Release(name=name, epsilon=epsilon, table=pd.DataFrame(rows))


def release_rates(name: str, numerators: Mapping[str, int], denominators: Mapping[str, int], epsilon: float,
                  seed: int | None = None) -> Release:
    """Per-group rates from two released counts each (ε/2 per count; groups disjoint)."""
    missing = [g for g in numerators if g not in denominators]
    if missing:
        raise ValueError(f"group {missing[0]!r} has a numerator but no denominator")
    top = release_counts(name, numerators, epsilon / 2, "parallel", seed)
    ordered = {g: denominators[g] for g in numerators}
    bottom = release_counts(name, ordered, epsilon / 2, "parallel", None if seed is None else seed + 1)
    table = pd.DataFrame({
        "group": list(numerators), "exact_rate": [numerators[g] / denominators[g] for g in numerators],
        "released_rate": (top.table["released"] / bottom.table["released"].clip(lower=1)).to_numpy(),
        "numerator_noise": top.table["noise"].to_numpy(), "denominator_noise": bottom.table["noise"].to_numpy(),
    })
    return Release(name=name, epsilon=epsilon, table=table)


def release_error(counts: Mapping[str, int], epsilon: float, composition: str, repeats: int = 200,
                  seed: int = 0) -> dict[str, float]:
    """Mean absolute and relative error of released vs exact counts over ``repeats`` releases."""
    exact = np.array([int(v) for v in counts.values()], dtype=float)
    errors = []
    for r in range(repeats):
        table = release_counts("error", counts, epsilon, composition, seed + r).table
        errors.append(np.abs(table["released"].to_numpy() - exact))
    abs_err = np.array(errors)
    return {"epsilon": epsilon, "mean_abs_error": float(abs_err.mean()),
            "p95_abs_error": float(np.quantile(abs_err, 0.95)),
            "mean_rel_error": float((abs_err / np.maximum(exact, 1.0)).mean()), "repeats": repeats,
            "counts": len(exact), "composition": composition}


def shopper_funnel(events: pd.DataFrame) -> dict[str, int]:
    """Distinct shoppers who viewed, carted and bought (the funnel counted in shoppers)."""
    out = {}
    for stage in ("view", "add_to_cart", "purchase"):
        out[stage] = int(events.loc[events["event_type"] == stage, "user_id"].nunique())
    return out
