"""Group columns for audits: checked, named, and never silently thinned.

Why a module: every audit starts the same way — the group column must exist,
its values become readable labels, and groups too small to say anything about
are *reported* (name and row count) and kept out of the gaps, never dropped
without a word. The helpers that derive groups the data does not state
directly (activity deciles, item popularity bands)
live here too, so every audit derives them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Fewest rows a group needs to be reported with metrics (the default; Settings can lower it for tests).
MIN_GROUP_ROWS = 30


class UnknownGroupColumn(KeyError):
    """The audit names a group column the data does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is meant to be read
        return str(self.args[0])


class NoGroupLargeEnough(ValueError):
    """Every group of a column has fewer rows than the minimum."""


@dataclass
class GroupCheck:
    """A column's groups: which are audited, which are too small (with their sizes)."""

    column: str
    sizes: dict[str, int]
    min_rows: int
    too_small: dict[str, int] = field(default_factory=dict)

    @property
    def kept(self) -> list[str]:
        """Groups with at least ``min_rows`` rows, largest first."""
        return [g for g in self.sizes if g not in self.too_small]

    def as_dict(self) -> dict[str, object]:
        notes = []
        if self.too_small:
            notes.append(f"{len(self.too_small)} group(s) under {self.min_rows} rows are listed with their size "
                         "and left out of the gaps")
        if len(self.kept) == 1:
            notes.append(f"only one group ({self.kept[0]}) has {self.min_rows} rows: there is no gap to measure")
        return {"column": self.column, "sizes": self.sizes, "min_rows": self.min_rows,
                "too_small": self.too_small, "note": "; ".join(notes)}


def group_column(table: pd.DataFrame, column: str) -> pd.Series:
    """``table[column]`` as string labels (``"<missing>"`` for NaN); unknown names raise with the known ones."""
    if column not in table.columns:
        known = ", ".join(map(str, table.columns[:30]))
        raise UnknownGroupColumn(f"group column {column!r} is not in the data; columns are: {known}")
    values = table[column]
    labels = values.astype(object).where(values.notna(), "<missing>").map(str)
    return labels.rename(column)


def check_groups(groups: pd.Series, min_rows: int = MIN_GROUP_ROWS) -> GroupCheck:
    """Sizes of each group and those under ``min_rows`` (raises when no group is large enough)."""
    sizes = groups.value_counts()
    check = GroupCheck(column=str(groups.name), sizes={str(k): int(v) for k, v in sizes.items()},
                       min_rows=min_rows,
                       too_small={str(k): int(v) for k, v in sizes.items() if v < min_rows})
    if len(check.kept) == 0:
        raise NoGroupLargeEnough(f"group column {groups.name!r}: no group has {min_rows} rows "
                                 f"(sizes {check.sizes}); lower the minimum or pool groups")
    return check


def top_values(values: pd.Series, keep: int, other: str = "other") -> pd.Series:
    """The ``keep`` most frequent values, every other value pooled as ``other`` (stated in every report)."""
    top = values.value_counts().index[:keep]
    return values.where(values.isin(top), other).astype(str)


def deciles(values: pd.Series | np.ndarray, name: str = "activity_decile") -> pd.Series:
    """``d1`` (least) .. ``d10`` (most) by rank, ties broken by position so every decile is filled."""
    series = pd.Series(np.asarray(values, dtype=float))
    ranks = series.rank(method="first")
    labels = np.ceil(ranks / len(series) * 10).clip(1, 10).astype(int)
    return pd.Series([f"d{k:02d}" for k in labels], index=getattr(values, "index", None), name=name)


def popularity_bands(counts: pd.Series, shares: Sequence[float] = (0.2, 0.5)) -> pd.Series:
    """Item popularity band: ``head`` (the most popular items it takes to reach ``shares[0]`` of all
    interactions), ``mid`` (those it then takes to reach ``shares[1]``), ``tail`` (the rest)."""
    ordered = counts.sort_values(ascending=False, kind="stable")
    before = (ordered.cumsum() - ordered) / ordered.sum()
    bands = np.where(before < shares[0], "head", np.where(before < shares[1], "mid", "tail"))
    return pd.Series(bands, index=ordered.index, name="popularity_band").reindex(counts.index)
