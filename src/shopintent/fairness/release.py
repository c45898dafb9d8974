"""The event store's own aggregates, released with differential privacy for export.

Why: the audit's releases (:mod:`shopintent.fairness.dp`) measure the error on
the published data sets; a shop exporting *its* numbers needs the same
mechanism on *its* store. :func:`release_store` computes three tables of
distinct-shopper counts from the stored events — the funnel (view, cart,
purchase), the K-means segment sizes (:mod:`shopintent.recommend.segments`) and
the purchase rate per segment — and releases them under one total budget ε,
split evenly across the three tables (sequential composition: the same
shoppers are in all three). :meth:`StoreRelease.export` is what may leave the
system: released counts, the ε each spent and the certified noise scale, never
the exact counts nor the noise drawn (either would give the exact counts back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shopintent.fairness import dp

#: Tables released per call; the total ε is split evenly across them.
TABLES: tuple[str, ...] = ("funnel (shoppers)", "segment sizes (shoppers)", "purchase rate by segment (shoppers)")


@dataclass
class StoreRelease:
    """The three released tables of one store, with the total ε they spent."""

    epsilon: float
    releases: list[dp.Release]
    shoppers: int

    def export(self) -> dict[str, Any]:
        """What may leave the system: released values, ε per table and count, noise scale (no exact counts)."""
        tables = []
        for release in self.releases:
            frame = release.table
            kept = [c for c in ("count", "group", "released", "released_rate", "epsilon", "scale") if c in frame]
            tables.append({"name": release.name, "epsilon": release.epsilon,
                           "rows": frame.loc[:, kept].to_dict(orient="records")})
        return {"epsilon": self.epsilon, "composition": f"sequential over {len(TABLES)} tables, ε/{len(TABLES)} each",
                "mechanism": "OpenDP discrete Laplace, scale certified by its privacy map", "tables": tables}


def release_store(events: pd.DataFrame, epsilon: float, k: int = 5, seed: int = 0) -> StoreRelease:
    """Release the store's funnel, segment sizes and purchase rate per segment under total ``epsilon``."""
    from shopintent.recommend.segments import segment_users, user_features

    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon!r}")
    if events.empty:
        raise ValueError("the store holds no events: there is nothing to release")
    each = epsilon / len(TABLES)
    funnel = dp.shopper_funnel(events)
    labels = segment_users(user_features(events), k=k, seed=seed).labels
    names = labels.map(lambda s: f"segment {s}")
    sizes = {str(g): int(n) for g, n in names.value_counts().sort_index().items()}
    buyers = set(events.loc[events["event_type"] == "purchase", "user_id"].astype(str))
    bought = names[names.index.astype(str).isin(buyers)].value_counts()
    numerators = {g: int(bought.get(g, 0)) for g in sizes}
    releases = [dp.release_counts(TABLES[0], funnel, each, "sequential"),
                dp.release_counts(TABLES[1], sizes, each, "parallel"),
                dp.release_rates(TABLES[2], numerators, sizes, each)]
    return StoreRelease(epsilon=epsilon, releases=releases, shoppers=int(labels.size))
