"""The live session risk scorer equals the detector it was taken from, on real Taobao sessions.

The service scores sessions with :class:`SessionRiskScorer` (the forest's node arrays, no
pickle); these tests pin that its scores are the Isolation Forest's own, that live session
state fed through :func:`live_session_frame` gives the training features, and that a save/load
round trip changes nothing.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopintent import persist
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.risk.anomaly import SESSION_FEATURES, AnomalyDetector, session_features, sessionise
from shopintent.risk.session_scorer import (
    SessionRiskScorer,
    live_session_frame,
    live_session_values,
)
from shopintent.settings import Settings


def test_array_scores_equal_the_isolation_forest_on_every_real_session(settings: Settings, tmp_path: Path) -> None:
    events = taobao.load(settings).events
    X = session_features(events)
    detector = AnomalyDetector(n_estimators=60, random_state=0).fit(X)
    scorer = SessionRiskScorer.from_detector(detector, X)
    np.testing.assert_allclose(scorer.scores(X), detector.score(X), rtol=0, atol=1e-12)
    # actions as shares of the training sessions: 1 % held or blocked, 0.1 % blocked
    actions = pd.Series([scorer.thresholds.action(s) for s in scorer.scores(X)]).value_counts(normalize=True)
    assert 0.005 <= actions.get("hold", 0) + actions.get("block", 0) <= 0.015
    loaded = SessionRiskScorer.load(scorer.save(tmp_path / "sessions"))
    np.testing.assert_array_equal(loaded.scores(X), scorer.scores(X))
    assert loaded.thresholds == scorer.thresholds


def test_live_state_events_give_the_training_features(settings: Settings) -> None:
    events = taobao.load(settings).events.head(3000)
    X = session_features(events)
    ids = X.index[X["n_events"] >= 5][:40]
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable").copy()
    ordered["session"] = sessionise(ordered)
    live = [(sid, [[r.event_type, r.timestamp.timestamp(), r.item_id, r.category_id]
                   for r in ordered[ordered["session"] == sid].itertuples(index=False)]) for sid in ids]
    Y = session_features(live_session_frame(live), gap_minutes=1e9)
    Y.index = [i.rsplit(":", 1)[0] for i in Y.index]
    pd.testing.assert_frame_equal(Y.loc[list(ids)], X.loc[ids], check_names=False, check_index_type=False,
                                  check_exact=False, rtol=1e-9)


def test_per_event_features_equal_session_features_on_every_real_session(settings: Settings) -> None:
    """The service's per-event path (no pandas) gives the training features of every Taobao session."""
    events = taobao.load(settings).events
    X = session_features(events)
    ordered = events.assign(session=sessionise(events)).sort_values(["session", "timestamp"], kind="stable")
    seconds = (ordered["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    rows = list(zip(ordered["event_type"].astype(str), seconds, ordered["item_id"], ordered["category_id"],
                    strict=True))
    bounds = np.flatnonzero(np.r_[True, ordered["session"].to_numpy()[1:] != ordered["session"].to_numpy()[:-1],
                                  True])
    names = ordered["session"].to_numpy()[bounds[:-1]]
    live = np.array([live_session_values([list(r) for r in rows[a:b]]) for a, b in pairwise(bounds)])
    expected = X.loc[names, list(SESSION_FEATURES)].to_numpy()
    assert len(live) == len(X) > 10_000
    np.testing.assert_allclose(live, expected, rtol=1e-9, atol=1e-9)


def test_live_verdicts_equal_the_frame_path(settings: Settings) -> None:
    events = taobao.load(settings).events.head(5000)
    X = session_features(events)
    scorer = SessionRiskScorer.from_detector(AnomalyDetector(n_estimators=30, random_state=0).fit(X), X)
    ordered = events.assign(session=sessionise(events)).sort_values(["session", "timestamp"], kind="stable")
    sessions = [(sid, [[r.event_type, r.timestamp.timestamp(), r.item_id, r.category_id]
                       for r in group.itertuples(index=False)]) for sid, group in ordered.groupby("session")][:300]
    fast = scorer.live_verdicts(sessions)
    slow = scorer.verdicts(live_session_frame(sessions))
    assert fast.keys() == slow.keys() and len(fast) == 300
    assert all(abs(fast[k].score - slow[k].score) < 1e-9 and fast[k].action == slow[k].action for k in fast)


def _reference_scores(scorer: SessionRiskScorer, values: np.ndarray) -> np.ndarray:
    """The forest walked node by node in plain Python from the stored trees (sklearn's rule:
    ``x <= threshold`` goes left; a leaf adds its depth plus the average path length of its
    samples), summed per row exactly as :meth:`SessionRiskScorer.scores_values` sums."""
    from shopintent.risk.session_scorer import _average_path_length

    values = np.asarray(values, dtype=np.float32).astype(np.float64)
    depth = np.zeros((len(values), len(scorer.trees)))
    for i, tree in enumerate(scorer.trees):
        leaf_length = _average_path_length(tree["n"])
        for r, row in enumerate(values):
            node, d = 0, 0
            while tree["left"][node] != -1:
                node = tree["left"][node] if row[tree["feature"][node]] <= tree["threshold"][node] \
                    else tree["right"][node]
                d += 1
            depth[r, i] = float(d) + leaf_length[node]
    return 2.0 ** (-depth.sum(axis=1) / (len(scorer.trees) * scorer._norm))


def test_level_walk_gives_the_node_walk_bit_for_bit_on_real_sessions(settings: Settings) -> None:
    """The complete-tree level walk (one session, and many at once) changes no score, not by one ulp."""
    events = taobao.load(settings).events.head(20_000)
    X = session_features(events)
    scorer = SessionRiskScorer.from_detector(AnomalyDetector(n_estimators=40, random_state=0).fit(X), X)
    values = X[scorer.feature_names].to_numpy(dtype=float)
    expected = _reference_scores(scorer, values)
    assert len(values) > 500
    np.testing.assert_array_equal(scorer.scores_values(values), expected)
    one_by_one = np.array([scorer.scores_values(row[None, :])[0] for row in values[:200]])
    np.testing.assert_array_equal(one_by_one, expected[:200])
    odd = values[:3].copy()
    odd[0, 0], odd[1, 3] = np.nan, np.inf  # NaN goes right at every split, as in scikit-learn
    np.testing.assert_array_equal(scorer.scores_values(odd), _reference_scores(scorer, odd))


def _numpy_session_values(events: list[list], utc_offset_hours: float = 8.0) -> list[float]:
    """The per-event features as numpy computes them (the previous implementation, kept as the
    reference the plain-Python one must equal bit for bit)."""
    import statistics

    ordered = sorted(events, key=lambda e: float(e[1]))
    t = np.array([float(e[1]) for e in ordered])
    n = float(len(t))
    duration = float(t[-1] - t[0])
    gaps = np.diff(t)
    gap_mean = float(gaps.mean()) if len(gaps) else float("nan")
    gap_cv = float(gaps.std() / gap_mean) if len(gaps) and gap_mean != 0.0 else 0.0
    viewed: set = set()
    carts = carts_no_view = purchases = 0
    for e in ordered:
        if str(e[0]) == "view":
            viewed.add(e[2])
        elif str(e[0]) == "add_to_cart":
            carts += 1
            carts_no_view += e[2] not in viewed
        elif str(e[0]) == "purchase":
            purchases += 1
    items = {e[2] for e in ordered if e[2] is not None}
    categories = {e[3] for e in ordered if e[3] is not None}
    hours = np.floor((t / 3600.0 + utc_offset_hours) % 24.0)
    median_gap = float(statistics.median(gaps.tolist())) if len(gaps) else 0.0
    return [n, duration, n / max(duration / 60.0, 1.0), median_gap, gap_cv, len(items) / n,
            float(len(categories)), carts_no_view / carts if carts else 0.0, carts / n, purchases / n,
            float((hours < 6).mean())]


def test_plain_python_features_equal_numpy_bit_for_bit_on_every_real_session(settings: Settings) -> None:
    """Every prefix length a live session goes through (up to the 200 events a live state keeps)."""
    events = taobao.load(settings).events
    ordered = events.assign(session=sessionise(events)).sort_values(["session", "timestamp"], kind="stable")
    seconds = (ordered["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    rows = [list(r) for r in zip(ordered["event_type"].astype(str), seconds, ordered["item_id"],
                                 ordered["category_id"], strict=True)]
    bounds = np.flatnonzero(np.r_[True, ordered["session"].to_numpy()[1:] != ordered["session"].to_numpy()[:-1],
                                  True])
    sessions = [rows[a:b][-200:] for a, b in pairwise(bounds)]
    assert len(sessions) > 10_000 and max(len(s) for s in sessions) > 128  # every summation branch
    for session in sessions:
        assert live_session_values(session) == _numpy_session_values(session)
    rng = np.random.default_rng(0)  # and made-up gaps spanning many magnitudes, every length to 300
    for length in range(1, 301):
        t = np.cumsum(rng.exponential(60.0, length) * rng.choice([1e-3, 1.0, 1e3], length)) + 1.5e9
        session = [["view", float(x), "i", "c"] for x in t]
        assert live_session_values(session) == _numpy_session_values(session), length


def _write_per_tree_layout(scorer: SessionRiskScorer, folder: Path) -> Path:
    """``scorer`` saved as saves before the packed layout wrote it (five npz entries per tree)."""
    scorer.save(folder)
    np.savez(folder / "trees.npz", **{f"{k}_{i}": v for i, tree in enumerate(scorer.trees) for k, v in tree.items()})
    (folder / persist.MANIFEST_FILE).unlink()
    persist.write_manifest(folder)
    return folder


def test_packed_forest_loads_the_same_trees_and_scores_as_the_per_tree_layout(
        settings: Settings, tmp_path: Path) -> None:
    """The packed ``trees.npz`` (six arrays) and an older per-tree save of the same forest load to
    equal node arrays and bit-identical scores on real Taobao sessions; a malformed file is refused
    with its name and the fix."""
    events = taobao.load(settings).events.head(10_000)
    X = session_features(events)
    scorer = SessionRiskScorer.from_detector(AnomalyDetector(n_estimators=30, random_state=0).fit(X), X)
    packed = SessionRiskScorer.load(scorer.save(tmp_path / "packed"))
    legacy = SessionRiskScorer.load(_write_per_tree_layout(scorer, tmp_path / "legacy"))
    with np.load(tmp_path / "packed" / "trees.npz") as data:
        assert sorted(data.files) == ["feature", "left", "n", "right", "threshold", "tree_offsets"]
    assert (packed.packed_on_disk, legacy.packed_on_disk) == (True, False)
    for a, b, c in zip(packed.trees, legacy.trees, scorer.trees, strict=True):
        for k in c:
            np.testing.assert_array_equal(a[k], c[k])
            np.testing.assert_array_equal(b[k], c[k])
            assert a[k].dtype == b[k].dtype == c[k].dtype
    values = X[scorer.feature_names].to_numpy(dtype=float)
    assert len(values) > 300
    np.testing.assert_array_equal(packed.scores_values(values), scorer.scores_values(values))
    np.testing.assert_array_equal(legacy.scores_values(values), scorer.scores_values(values))
    # a packed file whose offsets do not split the nodes into model.json's trees
    bad = tmp_path / "bad"
    scorer.save(bad)
    with np.load(bad / "trees.npz") as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(bad / "trees.npz", **{**arrays, "tree_offsets": arrays["tree_offsets"][:-1]})
    (bad / persist.MANIFEST_FILE).unlink()
    persist.write_manifest(bad)
    with pytest.raises(persist.ModelFileError, match=r"trees\.npz.*tree_offsets.*models prepare --only risk"):
        SessionRiskScorer.load(bad)
