"""TreeArrays predicts as LightGBM itself on real Taobao prefix rows (missing values included)."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from shopintent.inference.trees import (
    TreeArrays,
    arrays_file,
    arrays_have_counts,
    load_booster,
    write_tree_arrays,
)
from tests.conftest import REAL_DATA_DIR


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    """Features and purchase labels of the prefixes of 20,000 real Taobao events."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
        from shopintent.behaviour.examples import build_prefix_table
        from shopintent.samples import taobao_sessions

        table = build_prefix_table(taobao_sessions(20000), max_k=10)
    labelled = table.frame["y_purchase"].notna().to_numpy()
    X = table.X.to_numpy(dtype=float)
    return X[labelled], table.frame["y_purchase"].to_numpy()[labelled]


@pytest.mark.parametrize(("params", "missing"), [
    ({"objective": "binary"}, "NaN"),
    ({"objective": "binary", "zero_as_missing": True}, "Zero"),
    ({"objective": "regression", "num_leaves": 31}, "NaN"),
])
def test_predictions_leaves_and_raw_scores_equal_lightgbms(rows, params, missing, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    X, y = rows
    assert np.isnan(X).any() and (X == 0).any()
    half = len(X) // 2
    booster = lgb.train({**params, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 20,
                         "seed": 0}, lgb.Dataset(X[:half], y[:half]), num_boost_round=60)
    booster.save_model(str(tmp_path / "model.txt"))
    assert write_tree_arrays(tmp_path / "model.txt") == arrays_file(tmp_path / "model.txt")
    served = load_booster(tmp_path / "model.txt")
    assert isinstance(served, TreeArrays) and served.num_trees() == booster.num_trees()
    assert missing in {m["missing_type"] for t in booster.dump_model()["tree_info"]
                       for m in _splits(t["tree_structure"])}
    held_out = X[half:]
    for kwargs in ({}, {"raw_score": True}):
        expected = booster.predict(held_out, num_threads=1, **kwargs)
        assert np.max(np.abs(served.predict(held_out, **kwargs) - expected)) <= 1e-9
    assert np.array_equal(served.predict(held_out, pred_leaf=True),
                          booster.predict(held_out, pred_leaf=True, num_threads=1))
    # exact TreeSHAP (the service's reason codes) as LightGBM's pred_contrib, rows with NaN and 0 included
    some = held_out[np.isnan(held_out).any(axis=1)][:100]
    some = np.vstack([some, held_out[(held_out == 0).any(axis=1)][:100]])
    expected = booster.predict(some, pred_contrib=True, num_threads=1)
    got = served.predict(some, pred_contrib=True)
    assert got.shape == expected.shape and np.max(np.abs(got - expected)) <= 1e-9
    # the contributions and the expected value add up to the raw score
    assert np.max(np.abs(got.sum(axis=1) - booster.predict(some, raw_score=True, num_threads=1))) <= 1e-9


def _splits(node: dict) -> list[dict]:  # type: ignore[type-arg]
    if "leaf_value" in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]


def test_an_unsupported_booster_stays_with_lightgbm(rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    X, y = rows
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(X[:2000], (X[:2000, 0] % 3).astype(int)), num_boost_round=3)
    with pytest.raises(ValueError, match="one tree per iteration"):
        TreeArrays.from_booster(booster)
    booster.save_model(str(tmp_path / "multi.txt"))
    assert write_tree_arrays(tmp_path / "multi.txt") is None
    assert isinstance(load_booster(tmp_path / "multi.txt"), lgb.Booster)


def test_arrays_saved_before_the_node_counts_predict_but_are_rewritten_for_treeshap(
        rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    X, y = rows
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 0},
                        lgb.Dataset(X[:3000], y[:3000]), num_boost_round=20)
    booster.save_model(str(tmp_path / "model.txt"))
    write_tree_arrays(tmp_path / "model.txt")
    assert arrays_have_counts(tmp_path / "model.txt")
    current = load_booster(tmp_path / "model.txt")
    old = TreeArrays({k: v for k, v in current.arrays.items() if k not in TreeArrays.COUNTS})
    old.save(arrays_file(tmp_path / "model.txt"))  # as a file from before the counts
    assert not arrays_have_counts(tmp_path / "model.txt") and not old.has_counts
    assert np.array_equal(old.predict(X[3000:3100]), current.predict(X[3000:3100]))
    with pytest.raises(ValueError, match="no node counts"):
        old.predict(X[3000:3001], pred_contrib=True)
    write_tree_arrays(tmp_path / "model.txt")  # what `models prepare` does for such a file
    assert arrays_have_counts(tmp_path / "model.txt")
