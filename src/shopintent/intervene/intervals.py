"""Bootstrap 95% intervals for estimates that are a ratio of per-round sums.

Every estimator in :mod:`shopintent.intervene.estimators` is ``sum(num) /
sum(den)`` over logged rounds (``den`` is 1 per round except for the
self-normalised ones). Resampling rounds with replacement is then the same as
drawing multinomial counts and taking two dot products, so thousands of
bootstrap replicates over 10,000 rounds take milliseconds, not a Python loop.
The interval is the percentile interval of the replicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Replicates drawn at once (bounds memory at chunk × n floats).
_CHUNK = 200


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float
    level: float = 0.95

    def covers(self, x: float) -> bool:
        """Whether ``x`` lies inside the interval."""
        return self.low <= x <= self.high

    def as_dict(self) -> dict[str, float]:
        """Plain numbers for JSON."""
        return {"value": self.value, "low": self.low, "high": self.high, "level": self.level}


def bootstrap_counts(n: int, n_bootstrap: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Yield ``(chunk, n)`` arrays of resampling counts (each row sums to ``n``)."""
    done = 0
    while done < n_bootstrap:
        size = min(_CHUNK, n_bootstrap - done)
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        done += size


def ratio_replicates(
    num: np.ndarray, den: np.ndarray, n_bootstrap: int = 2000, random_state: int = 0
) -> np.ndarray:
    """Bootstrap replicates of ``sum(num) / sum(den)`` resampling rounds."""
    rng = np.random.default_rng(random_state)
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = []
    for counts in bootstrap_counts(len(num), n_bootstrap, rng):
        top = counts @ num
        bottom = counts @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan))
    return np.concatenate(out)


def percentile_interval(value: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """The percentile interval of ``replicates`` around ``value`` (NaN replicates ignored)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return Interval(value, float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(value), float(low), float(high), level)


def ratio_interval(
    num: np.ndarray, den: np.ndarray, n_bootstrap: int = 2000, level: float = 0.95, random_state: int = 0
) -> Interval:
    """``sum(num) / sum(den)`` with its bootstrap percentile interval."""
    value = float(np.sum(num) / np.sum(den))
    return percentile_interval(value, ratio_replicates(num, den, n_bootstrap, random_state), level)


def paired_replicates(
    statistic: Callable[[np.ndarray], float], n: int, n_bootstrap: int = 1000, random_state: int = 0
) -> np.ndarray:
    """Replicates of an arbitrary ``statistic(indices)`` over resampled round indices."""
    rng = np.random.default_rng(random_state)
    return np.array([statistic(rng.integers(0, n, size=n)) for _ in range(n_bootstrap)])
