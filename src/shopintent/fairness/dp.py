"""Counts that leave the system, released with differential privacy (OpenDP's discrete Laplace mechanism).

What is protected: one *shopper* (a row of the released table's unit). Each
count is of distinct shoppers, so adding or removing one shopper moves it by
at most 1. A table is released as one vector through one OpenDP measurement,
so the library itself accounts for the budget: the stages of a funnel count
the same shoppers, so one shopper moves every stage (L1 sensitivity = number
of stages, the same as splitting ε evenly); segment sizes count disjoint
shoppers (L1 sensitivity 1, every count gets the whole ε); a per-group rate is
two counts of the same shoppers (numerator and denominator, L1 sensitivity 2,
ε/2 each), groups disjoint. The noise scale is the smallest that OpenDP's
privacy map certifies for (sensitivity, ε) (``binary_search_param``).

OpenDP samples integer noise exactly (discrete Laplace, i.e. the two-sided
geometric mechanism, on an integer domain) from the operating system's secure
random source: a release cannot be seeded, by design, so repeated releases and
the measured error vary slightly from run to run. Released counts are clamped
at 0 (post-processing costs no privacy); the noise added is shown beside each
count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from shopintent.log import get_logger

log = get_logger(__name__)

#: The ε values whose error is measured (the issue's grid).
EPSILONS: tuple[float, ...] = (0.1, 1.0, 10.0)


@dataclass(frozen=True)
class CountMechanism:
    """An OpenDP measurement on a vector of integer counts, with the scale and budget it was built for."""

    measurement: Any
    scale: float
    sensitivity: int
    epsilon: float

    def __call__(self, counts: Sequence[int]) -> list[int]:
        """The noisy counts (one invocation spends ``epsilon`` on these shoppers)."""
        return [int(v) for v in self.measurement([int(c) for c in counts])]


@lru_cache(maxsize=64)
def count_mechanism(epsilon: float, sensitivity: int) -> CountMechanism:
    """OpenDP's Laplace mechanism on integer counts (discrete Laplace noise), ε-DP at L1 ``sensitivity``."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon!r}")
    if sensitivity < 1:
        raise ValueError(f"sensitivity must be a positive integer, got {sensitivity!r}")
    import opendp.prelude as dp

    dp.enable_features("contrib")
    domain, metric = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    scale = dp.binary_search_param(lambda s: dp.m.make_laplace(domain, metric, scale=s),
                                   d_in=sensitivity, d_out=epsilon)
    measurement = dp.m.make_laplace(domain, metric, scale=scale)
    log.debug("dp mechanism", epsilon=epsilon, sensitivity=sensitivity, scale=scale,
              certified=measurement.map(sensitivity))
    return CountMechanism(measurement, float(scale), sensitivity, epsilon)


def _checked(counts: Mapping[str, int]) -> list[int]:
    if not counts:
        raise ValueError("no counts to release")
    bad = [k for k, v in counts.items() if int(v) != v or v < 0]
    if bad:
        raise ValueError(f"count {bad[0]!r} is {counts[bad[0]]!r}: counts must be non-negative integers")
    return [int(v) for v in counts.values()]


def _sensitivity(composition: str, n: int) -> int:
    if composition not in ("sequential", "parallel"):
        raise ValueError(f"composition {composition!r} must be 'sequential' or 'parallel'")
    return n if composition == "sequential" else 1


@dataclass
class Release:
    """Exact and released counts of one table, with the noise and the ε each count used."""

    name: str
    epsilon: float
    table: pd.DataFrame

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "epsilon": self.epsilon, "rows": self.table.to_dict(orient="records")}


def release_counts(name: str, counts: Mapping[str, int], epsilon: float, composition: str) -> Release:
    """Release ``counts`` under total ``epsilon``; ``composition``: ``sequential`` (the same shoppers in
    every count) or ``parallel`` (disjoint shoppers)."""
    exact = _checked(counts)
    mechanism = count_mechanism(float(epsilon), _sensitivity(composition, len(exact)))
    noisy = mechanism(exact)
    each = epsilon / mechanism.sensitivity
    table = pd.DataFrame({"count": list(counts), "exact": exact, "released": [max(v, 0) for v in noisy],
                          "noise": [v - e for v, e in zip(noisy, exact, strict=True)],
                          "epsilon": [each] * len(exact), "scale": [mechanism.scale] * len(exact)})
    return Release(name=name, epsilon=epsilon, table=table)


def release_rates(name: str, numerators: Mapping[str, int], denominators: Mapping[str, int],
                  epsilon: float) -> Release:
    """Per-group rates from released numerators and denominators (one shopper moves one of each: ε/2 per count)."""
    missing = [g for g in numerators if g not in denominators]
    if missing:
        raise ValueError(f"group {missing[0]!r} has a numerator but no denominator")
    groups = list(numerators)
    top = _checked(numerators)
    bottom = _checked({g: denominators[g] for g in groups})
    mechanism = count_mechanism(float(epsilon), 2)
    noisy = mechanism(top + bottom)
    noisy_top, noisy_bottom = np.array(noisy[:len(groups)]), np.array(noisy[len(groups):])
    table = pd.DataFrame({
        "group": groups, "exact_rate": [t / max(b, 1) for t, b in zip(top, bottom, strict=True)],
        # post-processing (no privacy cost): a noisy numerator may pass its noisy denominator
        "released_rate": np.clip(np.clip(noisy_top, 0, None) / np.clip(noisy_bottom, 1, None), 0.0, 1.0),
        "numerator_noise": noisy_top - np.array(top), "denominator_noise": noisy_bottom - np.array(bottom),
        "epsilon": [epsilon / 2] * len(groups), "scale": [mechanism.scale] * len(groups),
    })
    return Release(name=name, epsilon=epsilon, table=table)


def release_error(counts: Mapping[str, int], epsilon: float, composition: str,
                  repeats: int = 200) -> dict[str, float]:
    """Mean absolute and relative error of released (clamped) vs exact counts over ``repeats`` releases."""
    exact_list = _checked(counts)
    mechanism = count_mechanism(float(epsilon), _sensitivity(composition, len(exact_list)))
    exact = np.array(exact_list, dtype=float)
    released = np.clip(np.array([mechanism(exact_list) for _ in range(repeats)], dtype=float), 0, None)
    abs_err = np.abs(released - exact)
    return {"epsilon": epsilon, "mean_abs_error": float(abs_err.mean()),
            "p95_abs_error": float(np.quantile(abs_err, 0.95)),
            "mean_rel_error": float((abs_err / np.maximum(exact, 1.0)).mean()), "repeats": repeats,
            "counts": len(exact), "composition": composition, "scale": mechanism.scale,
            "mechanism": "OpenDP make_laplace on integer counts (discrete Laplace)"}


def shopper_funnel(events: pd.DataFrame) -> dict[str, int]:
    """Distinct shoppers who viewed, carted and bought (the funnel counted in shoppers)."""
    out = {}
    for stage in ("view", "add_to_cart", "purchase"):
        out[stage] = int(events.loc[events["event_type"] == stage, "user_id"].nunique())
    return out
