"""K-means segments on real Taobao behaviour, and similar items from learned item vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shopintent.recommend import Recommender, make_model
from shopintent.recommend.embeddings import export_embeddings, item_vectors, similar_items
from shopintent.recommend.segments import FEATURES, segment_users, user_features


def test_taobao_users_fall_into_distinct_segments(taobao_events) -> None:  # type: ignore[no-untyped-def]
    events = taobao_events
    features = user_features(events)
    assert len(features) == 815 and list(features.columns) == list(FEATURES)
    assert features["events"].sum() == len(events)
    shares = features[["share_view", "share_add_to_cart", "share_favourite", "share_purchase"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-9)
    result = segment_users(features, k=4, seed=0)
    assert result.profiles["users"].sum() == 815 and result.profiles["users"].min() >= 3
    # Segments must differ in behaviour: the buying share varies across them.
    assert result.profiles["share_purchase"].max() > 2 * result.profiles["share_purchase"].min()
    again = segment_users(features, k=4, seed=0)
    assert (again.labels == result.labels).all()
    json.dumps(result.as_dict(), default=float)


def test_similar_items_from_als_vectors_share_attributes_more_than_chance(beauty_slice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, items = beauty_slice
    als = make_model("als", iterations=8).fit(split.train, items=items, catalogue=split.catalogue)
    vectors = item_vectors(als)
    assert vectors.shape == (1000, 64)
    shared, rng = [], np.random.default_rng(0)
    for item in split.catalogue[:100]:
        mine = set(items[item].attributes)
        neighbours = similar_items(als, item, k=5)
        assert item not in {i for i, _ in neighbours}
        shared.append(np.mean([bool(mine & set(items[i].attributes)) for i, _ in neighbours]))
    random_share = np.mean([bool(set(items[a].attributes) & set(items[b].attributes))
                            for a, b in rng.choice(split.catalogue, size=(500, 2))])
    assert np.mean(shared) > random_share + 0.1
    out = export_embeddings(Recommender.load(als.save(tmp_path / "als")), tmp_path / "emb")
    assert np.load(out / "item_embeddings.npy").shape == (1000, 64)
    assert json.loads((out / "item_ids.json").read_text()) == split.catalogue


def test_models_without_vectors_are_refused(beauty_slice) -> None:  # type: ignore[no-untyped-def]
    split, _ = beauty_slice
    with pytest.raises(TypeError, match="no item vectors"):
        item_vectors(make_model("pop").fit(split.train, catalogue=split.catalogue))
