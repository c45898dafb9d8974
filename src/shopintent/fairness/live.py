"""Live per-group intervention rates of the running service, with a bound that flags a drifting gap.

Groups are the shopper segments of the saved profiles (``segment 0`` …, at
most :data:`MAX_SEGMENTS`), ``unprofiled`` for shoppers without a profile and
``other`` for anything else, so the Prometheus label set is closed and small
whatever the traffic. Each decision the service makes is counted per group
(``shopintent_fairness_decisions_total``) and, when it is an intervention,
again in ``shopintent_fairness_interventions_total``; :meth:`LiveGroupRates.snapshot`
gives the rates, the largest gap between groups with at least
``min_decisions`` decisions, and whether it is past ``Settings.fairness_gap_bound``
(the dashboard's fairness panel shows it).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from shopintent.serve.metrics import OTHER, ClosedLabels
from shopintent.settings import Settings

#: Segments given their own label (K-means k is small; more segments are counted as ``other``).
MAX_SEGMENTS = 10
UNPROFILED = "unprofiled"
GROUPS: frozenset[str] = frozenset({*(f"segment {k}" for k in range(MAX_SEGMENTS)), UNPROFILED})
#: Fewest decisions a group needs before its rate enters the gap.
MIN_DECISIONS = 30
#: Seconds between checks of the profile file for a rebuild.
RELOAD_S = 30.0


class LiveGroupRates:
    """Per-group decision and intervention counters (bounded labels) and the live gap."""

    def __init__(self, settings: Settings, registry: CollectorRegistry, min_decisions: int = MIN_DECISIONS) -> None:
        self.settings = settings
        self.bound = settings.fairness_gap_bound
        self.min_decisions = min_decisions
        self.decisions = ClosedLabels(Counter(
            "shopintent_fairness_decisions_total", "Decisions, by shopper segment (bounded set).", ["group"],
            registry=registry), {"group": GROUPS})
        self.interventions = ClosedLabels(Counter(
            "shopintent_fairness_interventions_total", "Interventions decided, by shopper segment (bounded set).",
            ["group"], registry=registry), {"group": GROUPS})
        self._counts: dict[str, list[int]] = {}
        self._segments: dict[str, int] = {}
        self._frame: Any = None  # the profile frame ``_segments`` was read from
        self._cache: Any = None  # the profile reader, imported on the first decision (not at service start)
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def _segment_of(self, user_id: str) -> str:
        now = time.monotonic()
        if now - self._checked > RELOAD_S:
            from shopintent.profile.build import ProfileCache, ProfilesMissing

            self._cache = self._cache or ProfileCache()
            self._checked = now
            try:
                frame = self._cache.get(self.settings)
                if frame is not self._frame:  # re-read only after a rebuild, not every RELOAD_S
                    self._segments = frame["segment"].astype(int).to_dict()
                    self._frame = frame
            except ProfilesMissing:
                self._segments, self._frame = {}, None
        segment = self._segments.get(user_id)
        if segment is None:
            return UNPROFILED
        label = f"segment {segment}"
        return label if label in GROUPS else OTHER

    def observe(self, user_id: str, action: str) -> None:
        """Count one decision for the shopper's group (``action`` other than ``nothing`` is an intervention)."""
        group = self._segment_of(user_id)
        offered = action != "nothing"
        self.decisions.labels(group).inc()
        if offered:
            self.interventions.labels(group).inc()
        with self._lock:
            counts = self._counts.setdefault(group, [0, 0])
            counts[0] += 1
            counts[1] += int(offered)

    def snapshot(self) -> dict[str, Any]:
        """Rates per group, the largest gap among groups with enough decisions, and the flag."""
        with self._lock:
            counts = {g: tuple(c) for g, c in self._counts.items()}
        groups = [{"group": g, "decisions": n, "interventions": k, "rate": k / n if n else None}
                  for g, (n, k) in sorted(counts.items())]
        rated = [row["rate"] for row in groups if row["decisions"] >= self.min_decisions]
        gap = (max(rated) - min(rated)) if len(rated) >= 2 else None
        return {"groups": groups, "gap": gap, "bound": self.bound, "min_decisions": self.min_decisions,
                "flagged": bool(gap is not None and gap > self.bound)}
