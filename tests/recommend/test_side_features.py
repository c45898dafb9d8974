"""Side features for cold-start items and similar items, on the real Beauty slice (seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from shopintent.recommend import make_model
from shopintent.recommend.content import attribute_matrix
from shopintent.recommend.evaluate import evaluate_scores
from shopintent.recommend.side_features import OFFSETS, SideFeatureColdStart, side_matrix, similar_items
from shopintent.schema.records import InteractionSequence


def _cold_setup(beauty_slice):  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    hidden = set(split.catalogue[100:200])
    train = [InteractionSequence(s.user_id, tuple(i for i in s.items if i not in hidden)) for s in split.train]
    train = [s for s in train if s.items]
    matrix, _ = attribute_matrix(split.catalogue, items)
    side = {item: matrix[r + 1].toarray().ravel() for r, item in enumerate(split.catalogue)}
    return split, items, hidden, train, side


def test_cold_items_get_side_feature_scores_and_warm_order_is_kept(beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, items, hidden, train, side = _cold_setup(beauty_slice)
    base = make_model("sknn").fit(train, items, catalogue=split.catalogue)
    model = SideFeatureColdStart(make_model("sknn"), side, max_valid=1000).fit(train, items, catalogue=split.catalogue,
                                                               valid=split.valid)
    assert model.cold_.sum() >= len(hidden) and model.offset_ in OFFSETS
    table = model.selection_["validation_ndcg10"]
    assert table[str(model.offset_)]["warm"] >= table[str(OFFSETS[-1])]["warm"] * 0.99
    cold_examples = [ex for ex in split.test if ex.target in hidden]
    model.offset_ = 0.0  # cold items on the same footing as warm ones: their side features find them
    got = evaluate_scores(model.score, cold_examples, model.index_, ks=(50,)).metrics["HR@50"]
    cf = evaluate_scores(base.score, cold_examples, base.index_, ks=(50,)).metrics["HR@50"]
    assert got > 0.1 and cf < 0.02  # kNN cannot see the hidden items; their attributes can
    # warm items keep the wrapped model's order among themselves
    hist = [model.index_.encode(list(split.test[0].history))]
    warm = np.flatnonzero(model.warm_)
    ours, theirs = model.score(hist)[0, warm], base.score(hist)[0, warm]
    assert np.array_equal(np.argsort(-ours, kind="stable"), np.argsort(-theirs, kind="stable"))


def test_side_matrix_and_similar_items() -> None:
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.9, 0.1]), "c": np.array([0.0, 1.0])}
    matrix = side_matrix(["a", "b", "c", "new"], {"image": vectors, "title": {"c": np.array([3.0])}})
    assert matrix.shape == (5, 3) and not matrix[0].any() and not matrix[4].any()
    np.testing.assert_allclose(np.linalg.norm(matrix[1:4], axis=1), 1.0, rtol=1e-6)
    assert similar_items(matrix, np.array([1]), k=1, among=np.array([1, 2, 3])).tolist() == [[2]]
    with pytest.raises(ValueError, match="'image'"):
        side_matrix(["a"], {"image": {"a": np.zeros(2), "b": np.zeros(3)}})
