"""Test-time views of cached block-11 maps (one-cell shifts, mirrored photo) on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shopintent.multimodal.encoder import EMBED_DIM, HeadStage, head_embeddings, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.finetune import shift_maps
from shopintent.multimodal.views import (
    CROSS_SHIFTS,
    RING_SHIFTS,
    SHIFT_SETS,
    cached_view_embeddings,
    shift_view,
    view_embeddings,
)
from tests.multimodal import photos

FIRST_BLOCK = 11  # the bench's cache block: 112x14x14 maps


@pytest.fixture(scope="module")
def block_maps(fashion: FashionData) -> tuple[np.ndarray, np.ndarray]:
    """Five real photos' block-11 input maps, plain and mirrored (float16, as cached)."""
    return photos.block_maps(fashion.products.groupby("masterCategory").head(1).head(5), FIRST_BLOCK)


def test_one_view_is_the_plain_prediction_and_views_average(block_maps: tuple[np.ndarray, np.ndarray]) -> None:
    plain, mirrored = block_maps
    head = HeadStage(pretrained_net(), FIRST_BLOCK)
    one = view_embeddings(plain, head)
    assert one.shape == (len(plain), EMBED_DIM)
    np.testing.assert_array_equal(one, head_embeddings(plain, head))  # 1 view == the plain prediction
    np.testing.assert_allclose(view_embeddings(plain, head, flipped=mirrored),
                               head_embeddings(plain, head, flipped=mirrored), atol=1e-6)
    ring = view_embeddings(plain, head, RING_SHIFTS, flipped=mirrored)
    assert ring.shape == one.shape and np.isfinite(ring).all()
    singles = [view_embeddings(source, head, (shift,)) for source in (plain, mirrored) for shift in RING_SHIFTS]
    np.testing.assert_allclose(ring, np.mean(singles, axis=0), atol=1e-5)  # the mean of 18 single views
    assert not np.allclose(singles[1], singles[0], atol=1e-3)  # a shifted view is another view
    assert SHIFT_SETS[4] == CROSS_SHIFTS and len(SHIFT_SETS[8]) == 9


def test_a_view_is_the_training_shift(block_maps: tuple[np.ndarray, np.ndarray]) -> None:
    """Each one-cell view is exactly one of the translations ``shift_maps`` trains on (same padding)."""
    maps = torch.from_numpy(block_maps[0].astype(np.float32))
    trained = shift_maps(maps, 1, torch.Generator().manual_seed(3))
    views = {(dy, dx): shift_view(maps, dy, dx) for dy, dx in RING_SHIFTS}
    for row in range(len(maps)):
        assert any(torch.equal(trained[row], v[row]) for v in views.values()), row
    assert torch.equal(views[(0, 1)][:, :, :, :-1], maps[:, :, :, 1:])  # content moves one cell left
    with pytest.raises(ValueError, match="more than one cell"):
        shift_view(maps, 2, 0)


def test_view_cache_reads_back_the_same_embeddings(block_maps: tuple[np.ndarray, np.ndarray],
                                                   tmp_path: Path) -> None:
    plain, mirrored = block_maps
    head = HeadStage(pretrained_net(), FIRST_BLOCK)
    key = {"head": "pretrained"}
    first = cached_view_embeddings(tmp_path, key, plain, head, CROSS_SHIFTS, flipped=mirrored)
    assert len(list((tmp_path / "multimodal" / "views").glob("*.safetensors"))) == 10  # 5 views x 2 sources
    np.testing.assert_allclose(first, view_embeddings(plain, head, CROSS_SHIFTS, flipped=mirrored), atol=1e-6)
    again = cached_view_embeddings(tmp_path, key, plain, head, CROSS_SHIFTS, flipped=mirrored)
    np.testing.assert_array_equal(again, first)


def test_test_time_views_do_not_change_the_fine_tuned_heads_key(fashion: FashionData) -> None:
    """Views are inference only: a recipe with them reads the head trained without them from the cache."""
    from dataclasses import replace

    from shopintent.evaluation.benchmarks.multimodal import FinetuneRecipe, _finetune_key, _view_variants

    rows = np.arange(len(fashion.products)) % 2 == 0
    recipe = FinetuneRecipe()
    assert (_finetune_key(fashion, replace(recipe, test_shifts=8), rows, ~rows, 3)
            == _finetune_key(fashion, replace(recipe, test_shifts=0), rows, ~rows, 3))
    assert list(_view_variants(0)) == ["plain", "flip-averaged"]
    assert _view_variants(4)["flip-averaged + 4 shifts"] == (True, 4)
    with pytest.raises(ValueError, match="test_shifts=3"):
        _view_variants(3)
