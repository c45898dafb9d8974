"""A saved hybrid loads its item index and item records once, shared with its components."""

from __future__ import annotations

import numpy as np
import pytest

from shopintent.persist import ModelFileError
from shopintent.recommend import Recommender, make_model
from shopintent.recommend.base import ItemRecords
from shopintent.recommend.hybrid import Hybrid


def test_loaded_hybrid_shares_items_with_its_components_and_recommends_the_same(  # type: ignore[no-untyped-def]
        beauty_slice, tmp_path) -> None:
    split, items = beauty_slice
    parts = [make_model(kind).fit(split.train, items=items, catalogue=split.catalogue, valid=split.valid)
             for kind in ("sknn", "pop")]
    hybrid = Hybrid.from_fitted(parts, split.valid, blend_examples=200)
    loaded = Recommender.load(hybrid.save(tmp_path / "hybrid"))
    assert all(part.index_ is loaded.index_ and part.items_ is loaded.items_ for part in loaded.models_)
    histories = [hybrid.index_.encode(ex.history) for ex in split.test[:50]]
    np.testing.assert_allclose(loaded.score(histories), hybrid.score(histories), rtol=1e-5, atol=1e-6)
    assert loaded.recommend(split.test[0].history, k=10) == hybrid.recommend(split.test[0].history, k=10)
    # item records are read on first use only (recommending never needs them), then equal the saved ones
    assert isinstance(loaded.items_, ItemRecords) and loaded.items_._records is None
    assert loaded.index_.ids == hybrid.index_.ids and loaded.items_ == hybrid.items_
    assert len(hybrid.items_) > 0 and loaded.items_._records is not None
    # two separate loads do not share: the memo lives for one outermost load only
    again = Recommender.load(tmp_path / "hybrid")
    assert again.index_ is not loaded.index_ and again.index_.ids == loaded.index_.ids


def test_item_records_changed_after_load_are_refused(beauty_slice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The lazily read ``attributes.json`` must be the file the manifest vouched for at load."""
    split, items = beauty_slice
    model = make_model("pop").fit(split.train, items=items, catalogue=split.catalogue, valid=split.valid)
    loaded = Recommender.load(model.save(tmp_path / "pop"))
    (tmp_path / "pop" / "attributes.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"attributes\.json: changed since the model was loaded"):
        len(loaded.items_)
