"""Live session risk: a fitted :class:`~shopintent.risk.anomaly.AnomalyDetector` as plain arrays.

Why arrays: the service must load the detector without pickle (the model
manifests refuse pickle-based files) and score a session on every event. The
forest's trees are kept as the node arrays scikit-learn grew (children,
split feature, threshold, samples per node) and walked with numpy, which
gives the scores of ``IsolationForest.score_samples`` exactly (a parity test
on real Taobao sessions pins it) at a fraction of the cost per row.

Actions are shares of the training sessions (as for clicks: no label prices
a session), by default review the strangest 5 %, hold 1 % (the detector's
own threshold), block 0.1 %. Reasons are the detector's per-feature reason
codes (features beyond 99 % of real sessions).

>>> from shopintent.datasets import taobao_userbehavior_head as taobao
>>> from shopintent.risk.anomaly import AnomalyDetector, session_features
>>> X = session_features(taobao.load().events.head(20_000))
>>> detector = AnomalyDetector(n_estimators=20).fit(X)
>>> scorer = SessionRiskScorer.from_detector(detector, X)
>>> bool(np.allclose(scorer.scores(X), detector.score(X)))
True
"""

from __future__ import annotations

import math
import statistics
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shopintent import persist
from shopintent.log import get_logger
from shopintent.risk.session_features import SESSION_FEATURES, Reason, session_features
from shopintent.risk.scorer import click_thresholds
from shopintent.risk.verdict import ActionThresholds, Verdict

if TYPE_CHECKING:
    from shopintent.risk.anomaly import AnomalyDetector

__all__ = ["SessionRiskScorer", "live_session_frame", "live_session_values", "pack_trees", "unpack_trees"]

_KIND = "session_risk"
#: Both ``trees.npz`` layouts are version 1: :meth:`SessionRiskScorer.load` reads the packed one
#: (:func:`pack_trees`) and the per-tree one older saves wrote (``left_0``, … ``n_199``).
FORMAT_VERSION = 1
RETRAIN = "shopintent models prepare --only risk"
_EULER = 0.5772156649015329
#: A tree's node arrays, in the order they are saved.
TREE_ARRAYS = ("left", "right", "feature", "threshold", "n")
#: The packed layout's array of where each tree starts in the concatenated node arrays.
PACKED_OFFSETS = "tree_offsets"

log = get_logger(__name__)


def pack_trees(trees: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The forest as six contiguous arrays: every tree's node arrays concatenated, and offsets.

    Why: the per-tree layout (five npz entries per tree, 1,000 for the default forest) cost
    ~0.2 s CPU of the service's start in zip-member and header parsing alone; six entries
    read in milliseconds. ``tree_offsets[i]:tree_offsets[i + 1]`` are tree ``i``'s nodes.
    """
    sizes = [len(tree["left"]) for tree in trees]
    packed = {k: np.concatenate([tree[k] for tree in trees]) if trees else np.zeros(0) for k in TREE_ARRAYS}
    packed[PACKED_OFFSETS] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return packed


def unpack_trees(packed: dict[str, np.ndarray], n_trees: int) -> list[dict[str, np.ndarray]]:
    """The trees of :func:`pack_trees` (views into its arrays); a clear error for a malformed file."""
    offsets = np.asarray(packed[PACKED_OFFSETS])
    missing = [k for k in TREE_ARRAYS if k not in packed]
    if missing:
        raise ValueError(f"the packed forest lacks array(s) {', '.join(missing)}")
    total = len(packed["left"])
    if (offsets.ndim != 1 or len(offsets) != n_trees + 1 or offsets[0] != 0 or offsets[-1] != total
            or np.any(np.diff(offsets) < 1)):
        raise ValueError(f"{PACKED_OFFSETS} does not split {total} nodes into {n_trees} trees "
                         "(model.json n_trees)")
    bad = [k for k in TREE_ARRAYS if len(packed[k]) != total]
    if bad:
        raise ValueError(f"array(s) {', '.join(bad)} do not have one entry per node ({total})")
    bounds = offsets.tolist()
    return [{k: packed[k][a:b] for k in TREE_ARRAYS} for a, b in pairwise(bounds)]


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful search in a binary tree of ``n`` points (as sklearn)."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    two = n == 2
    many = n > 2
    out[two] = 1.0
    out[many] = 2.0 * (np.log(n[many] - 1.0) + _EULER) - 2.0 * (n[many] - 1.0) / n[many]
    return out


def live_session_frame(sessions: list[tuple[str, list[list[Any]]]]) -> pd.DataFrame:
    """Canonical events of live sessions (``(session id, [[type, unix s, item, category], …])``)
    in the shape :func:`~shopintent.risk.anomaly.session_features` reads: one implementation of the
    features offline and live (the session id stands in for the user, so each live session is one)."""
    rows = [(sid, e[2], e[3], e[0], float(e[1])) for sid, events in sessions for e in events]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "category_id", "event_type", "t"])
    frame["timestamp"] = pd.to_datetime(frame.pop("t"), unit="s", utc=True)
    return frame


def _pairwise_sum(values: list[float], start: int, n: int) -> float:
    """``numpy.add.reduce`` of ``values[start:start + n]`` (float64), bit for bit: numpy's pairwise
    summation (8 running sums per block of up to 128, halves above). Why by hand: numpy's fixed
    cost per call is most of a short session's feature time; a test holds the two equal."""
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += values[i]
        return total
    if n <= 128:
        r = values[start:start + 8]
        i, stop = 8, n - n % 8
        while i < stop:
            base = start + i
            r[0] += values[base]
            r[1] += values[base + 1]
            r[2] += values[base + 2]
            r[3] += values[base + 3]
            r[4] += values[base + 4]
            r[5] += values[base + 5]
            r[6] += values[base + 6]
            r[7] += values[base + 7]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(start + i, start + n):
            total += values[k]
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, n - half)


def live_session_values(events: list[list[Any]], utc_offset_hours: float = 8.0) -> list[float]:
    """:data:`~shopintent.risk.anomaly.SESSION_FEATURES` of one session's ``[type, unix s, item,
    category]`` events, in that order: the per-event twin of ``session_features`` (same
    definitions; a parity test on every real Taobao session holds them equal). Plain Python
    with numpy's own summation order (:func:`_pairwise_sum`), so every value is the one numpy's
    ``mean``/``std`` give, at a fraction of their fixed cost on a session's few events."""
    ordered = sorted(events, key=lambda e: float(e[1]))  # stable, as session_features' sort
    t = [float(e[1]) for e in ordered]
    count = len(t)
    n = float(count)
    duration = t[-1] - t[0]
    gaps = [b - a for a, b in pairwise(t)]
    m = len(gaps)
    gap_mean = _pairwise_sum(gaps, 0, m) / m if m else float("nan")
    if m and gap_mean != 0.0:
        squares = [(g - gap_mean) * (g - gap_mean) for g in gaps]
        gap_cv = math.sqrt(_pairwise_sum(squares, 0, m) / m) / gap_mean
    else:
        gap_cv = 0.0
    viewed: set[Any] = set()
    carts = carts_no_view = purchases = 0
    for e in ordered:
        kind = str(e[0])
        if kind == "view":
            viewed.add(e[2])
        elif kind == "add_to_cart":
            carts += 1
            carts_no_view += e[2] not in viewed
        elif kind == "purchase":
            purchases += 1
    items = {e[2] for e in ordered if e[2] is not None}
    categories = {e[3] for e in ordered if e[3] is not None}
    night = sum(1 for x in t if math.floor((x / 3600.0 + utc_offset_hours) % 24.0) < 6)
    median_gap = float(statistics.median(gaps)) if m else 0.0
    return [n, duration, n / max(duration / 60.0, 1.0), median_gap,
            gap_cv, len(items) / n, float(len(categories)), carts_no_view / carts if carts else 0.0,
            carts / n, purchases / n, night / n]


class SessionRiskScorer:
    """Anomaly score + reasons + action per session, from the arrays of a fitted detector."""

    #: Whether :meth:`load` read the packed ``trees.npz`` layout (``False``: an older per-tree save).
    packed_on_disk: bool = True

    def __init__(self, trees: list[dict[str, np.ndarray]], max_samples: int, feature_names: list[str],
                 low: np.ndarray, high: np.ndarray, seen_min: np.ndarray, seen_max: np.ndarray,
                 reason_quantile: float, thresholds: ActionThresholds, utc_offset_hours: float = 8.0) -> None:
        self.trees = trees
        self.max_samples = int(max_samples)
        self.feature_names = list(feature_names)
        self.low, self.high = np.asarray(low, float), np.asarray(high, float)
        self.seen_min, self.seen_max = np.asarray(seen_min, float), np.asarray(seen_max, float)
        self.reason_quantile = float(reason_quantile)
        self.thresholds = thresholds
        self.utc_offset_hours = float(utc_offset_hours)
        self._norm = float(_average_path_length(np.array([self.max_samples]))[0])
        # The same trees as complete binary trees of one depth, stored level by level (a leaf above
        # the deepest level repeats down to it with its value): a walk is the same few numpy steps
        # per level for any row, with no "is this a leaf" test. A node's children are 2q+1 (left)
        # and 2q (right) within the next level, q = tree * 2**level + position in its tree.
        self._levels = self._complete_levels(trees)

    @staticmethod
    def _complete_levels(trees: list[dict[str, np.ndarray]]) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Per level: split features and thresholds; and every tree's leaf value at the last level
        (the leaf's depth plus the average path length of its samples, as the walk adds them).

        Built level by level for all trees at once (numpy, ~3 ms for the default forest; the
        node-by-node Python walk it replaced was ~0.13 s CPU of every service start). At each
        level ``node`` holds, per complete-tree position ``q``, the tree node there (a leaf above
        the deepest level stays put, with its depth, in both of its children's positions).
        """
        if not trees:
            return [], [], np.zeros(0)
        sizes = np.array([len(tree["left"]) for tree in trees], dtype=np.intp)
        base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        left = np.concatenate([tree["left"] for tree in trees]).astype(np.intp)
        right = np.concatenate([tree["right"] for tree in trees]).astype(np.intp)
        feature = np.concatenate([tree["feature"] for tree in trees]).astype(np.intp)
        threshold = np.concatenate([np.asarray(tree["threshold"], dtype=np.float64) for tree in trees])
        leaf_length = _average_path_length(np.concatenate([tree["n"] for tree in trees]))
        owner = np.repeat(base, sizes)  # each node's tree's first node, to make children global
        split = left != -1
        left = np.where(split, left + owner, -1)
        right = np.where(split, right + owner, -1)
        node = base.copy()  # level 0: every tree's root
        node_depth = np.zeros(len(trees), dtype=np.intp)
        features: list[np.ndarray] = []
        thresholds: list[np.ndarray] = []
        while split[node].any():
            at_split = split[node]
            features.append(np.where(at_split, np.maximum(feature[node], 0), 0))
            thresholds.append(np.where(at_split, threshold[node], 0.0))
            below = np.empty(2 * len(node), dtype=np.intp)  # position 2q + 1: left child; 2q: right
            below[1::2] = np.where(at_split, left[node], node)
            below[0::2] = np.where(at_split, right[node], node)
            node_depth = np.repeat(node_depth + at_split, 2)
            node = below
        leaves = node_depth.astype(np.float64) + leaf_length[node]
        return features, thresholds, leaves

    @classmethod
    def from_detector(cls, detector: AnomalyDetector, X: pd.DataFrame, review_share: float = 0.05,
                      hold_share: float = 0.01, block_share: float = 0.001,
                      utc_offset_hours: float = 8.0) -> SessionRiskScorer:
        """Arrays of ``detector`` (fitted on ``X``); thresholds as shares of ``X``'s sessions."""
        forest = detector.forest_
        trees = []
        for tree, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = tree.tree_
            leaf = t.children_left == -1
            # a split's feature in the detector's columns (bagging may permute them)
            feature = np.where(leaf, -1, np.asarray(features)[np.maximum(t.feature, 0)])
            trees.append({"left": t.children_left.astype(np.int32), "right": t.children_right.astype(np.int32),
                          "feature": feature.astype(np.int32), "threshold": t.threshold.astype(np.float64),
                          "n": t.n_node_samples.astype(np.int64)})
        scorer = cls(trees, forest.max_samples_, detector.feature_names_, detector.low_, detector.high_,
                     detector.min_, detector.max_, detector.reason_quantile,
                     ActionThresholds(0.0, 0.0, 0.0), utc_offset_hours)
        scorer.thresholds = click_thresholds(scorer.scores(X), review_share, hold_share, block_share)
        return scorer

    # -- scoring ---------------------------------------------------------------------------------
    def scores(self, X: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row of session features (higher is stranger; = ``detector.score``)."""
        return self.scores_values(X[self.feature_names].to_numpy(dtype=float))

    def scores_values(self, values: np.ndarray) -> np.ndarray:
        """:meth:`scores` of a plain ``(rows, features)`` array in :attr:`feature_names` order."""
        # sklearn's trees compare float32 values with their thresholds
        values = np.asarray(values, dtype=np.float32).astype(np.float64)
        k = len(self.trees)
        features, thresholds, leaves = self._levels
        q = np.repeat(np.arange(k, dtype=np.intp)[None, :], len(values), axis=0)
        one = values[0] if len(values) == 1 else None
        for feature_at, threshold_at in zip(features, thresholds, strict=True):
            at = feature_at[q]
            # one session (the live path): a plain take is several times cheaper than take_along_axis
            value = one[at] if one is not None else np.take_along_axis(values, at, axis=1)
            go_left = value <= threshold_at[q]  # NaN goes right, as in scikit-learn
            q <<= 1
            q += go_left
        depth = leaves[q]
        return 2.0 ** (-depth.sum(axis=1) / (k * self._norm))

    def reasons(self, values: np.ndarray, top: int = 3) -> list[Reason]:
        """Up to ``top`` features of one session beyond the reason quantiles, most extreme first."""
        span = np.maximum(self.high - self.low, 1e-9)
        above, below = (values - self.high) / span, (self.low - values) / span
        found = []
        for j, name in enumerate(self.feature_names):
            if above[j] > 0:
                found.append((above[j], Reason(name, float(values[j]), self.reason_quantile, "above",
                                               float(self.seen_max[j]))))
            elif below[j] > 0:
                found.append((below[j], Reason(name, float(values[j]), self.reason_quantile, "below",
                                               float(self.seen_min[j]))))
        found.sort(key=lambda pair: -pair[0])
        return [reason for _, reason in found[:top]]

    def verdicts(self, events: pd.DataFrame, top: int = 3) -> dict[str, Verdict]:
        """A verdict per session of canonical ``events`` (user = session), keyed by that id.

        Reasons are given for sessions whose action is not ``allow`` (an allowed session's
        unusual features are not worth a reviewer's time, and skipping them is cheaper).
        """
        if events.empty:
            return {}
        X = session_features(events, gap_minutes=1e9, utc_offset_hours=self.utc_offset_hours)
        scores = self.scores(X)
        values = X[self.feature_names].to_numpy(dtype=float)
        out = {}
        for i, key in enumerate(X.index):
            action = self.thresholds.action(float(scores[i]))
            reasons = [] if action == "allow" else [r.text() for r in self.reasons(values[i], top)]
            out[str(key).rsplit(":", 1)[0]] = Verdict(score=float(scores[i]), action=action, reasons=reasons)
        return out

    def live_verdicts(self, sessions: list[tuple[str, list[list[Any]]]], top: int = 3) -> dict[str, Verdict]:
        """:meth:`verdicts` of live sessions (``(id, [[type, unix s, item, category], …])``), without
        pandas: the service's per-event path (:func:`live_session_values`, pinned equal to
        :func:`~shopintent.risk.anomaly.session_features` by a test on real sessions)."""
        kept = [(sid, events) for sid, events in sessions if events]
        if not kept:
            return {}
        order = [SESSION_FEATURES.index(name) for name in self.feature_names]
        values = np.array([live_session_values(events, self.utc_offset_hours) for _, events in kept])[:, order]
        scores = self.scores_values(values)
        out = {}
        for i, (sid, _) in enumerate(kept):
            action = self.thresholds.action(float(scores[i]))
            reasons = [] if action == "allow" else [r.text() for r in self.reasons(values[i], top)]
            out[sid] = Verdict(score=float(scores[i]), action=action, reasons=reasons)
        return out

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``trees.npz`` (no pickle; the packed layout, :func:`pack_trees`) and ``model.json``,
        then the manifest."""
        path = persist.begin_save(path)
        np.savez(path / "trees.npz", **pack_trees(self.trees))
        t = self.thresholds
        persist.write_model_json(
            path, _KIND, FORMAT_VERSION, {"max_samples": self.max_samples, "n_trees": len(self.trees),
                                          "reason_quantile": self.reason_quantile,
                                          "utc_offset_hours": self.utc_offset_hours},
            feature_names=self.feature_names, low=self.low.tolist(), high=self.high.tolist(),
            seen_min=self.seen_min.tolist(), seen_max=self.seen_max.tolist(),
            thresholds={"review": t.review, "hold": t.hold, "block": t.block}, metrics=metrics or {})
        persist.write_manifest(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> SessionRiskScorer:
        """Read a scorer written by :meth:`save` (its manifest verified first)."""
        path = Path(path)
        record = persist.read_model_json(path, _KIND, FORMAT_VERSION, retrain=RETRAIN)
        params = record["parameters"]
        n_trees = int(params["n_trees"])
        with np.load(path / "trees.npz", allow_pickle=False) as data:
            packed = PACKED_OFFSETS in data.files
            try:
                trees = (unpack_trees({name: data[name] for name in data.files}, n_trees) if packed
                         else [{k: data[f"{k}_{i}"] for k in TREE_ARRAYS} for i in range(n_trees)])
            except (KeyError, ValueError) as exc:
                raise persist.ModelFileError(path, "trees.npz", f"is not a forest of {n_trees} trees ({exc})",
                                             f"re-train with `{RETRAIN}`") from exc
        if not packed:
            log.info("session risk model in the per-tree layout (slower to load); "
                     "`shopintent models prepare --only risk` rewrites it packed", path=str(path))
        scorer = cls(trees, params["max_samples"], record["feature_names"], np.array(record["low"]),
                     np.array(record["high"]), np.array(record["seen_min"]), np.array(record["seen_max"]),
                     params["reason_quantile"], ActionThresholds(**record["thresholds"]),
                     params["utc_offset_hours"])
        scorer.metrics = dict(record.get("metrics") or {})
        scorer.packed_on_disk = packed
        return scorer
