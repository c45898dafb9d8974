"""Fine-tuning the encoder's top on cached block features: a small real round trip and the validation rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from shopintent.multimodal.encoder import HeadStage, ImageEncoder, head_embeddings, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.finetune import finetune_head, shift_maps
from shopintent.multimodal.images import read_image
from tests.multimodal.photos import block_maps

FIRST_BLOCK = 14  # cache the input of the last two MBConv blocks; fine-tune the last one and the head


def test_choosing_epochs_on_validation_needs_the_selected_tasks_classifier() -> None:
    trunk = np.zeros((4, 320, 7, 7), np.float16)
    mask = np.array([True, True, False, False])
    with pytest.raises(ValueError, match="select_task 'articleType'"):
        finetune_head(trunk, {"gender": np.array(["Men", "Women"] * 2)}, mask, valid=~mask)


def test_deeper_finetune_round_trip_on_real_photos(fashion: FashionData) -> None:
    products, cached, mirrored = _block_photos(fashion, FIRST_BLOCK)
    train = np.arange(len(products)) % 3 != 0
    head = finetune_head(
        cached, {"masterCategory": products["masterCategory"].to_numpy()}, train, epochs=3, batch_size=4,
        lr=1e-3, seed=0, valid=~train, select_task="masterCategory", flipped=mirrored, first_block=FIRST_BLOCK,
        train_from=FIRST_BLOCK + 1, label_smoothing=0.1,
    )
    history = np.asarray(head.history_)
    assert len(history) == 3 and not np.isnan(history).any()
    assert head.best_epoch_ == int(history.argmax()) + 1  # the best validation epoch is the one kept
    pretrained = HeadStage(pretrained_net(), FIRST_BLOCK)
    assert torch.equal(head.blocks[0].state_dict()["_project_conv.weight"],
                       pretrained.blocks[0].state_dict()["_project_conv.weight"])  # frozen block untouched
    assert not torch.equal(head.conv_head.weight, pretrained.conv_head.weight)  # the top was trained
    # the exported encoder is the fine-tuned one: photo -> frozen trunk -> tuned top == tuned top on the cache
    photos = np.stack([read_image(Path(p)) for p in products["path"][:3]])
    with torch.inference_mode():
        end_to_end = ImageEncoder(head)(torch.from_numpy(photos)).numpy()
    np.testing.assert_allclose(end_to_end, head_embeddings(cached[:3].astype(np.float32), head), atol=2e-2)
    both = head_embeddings(cached[:3], head, flipped=mirrored[:3])
    np.testing.assert_allclose(both, (head_embeddings(cached[:3], head) + head_embeddings(mirrored[:3], head)) / 2,
                               atol=1e-5)


def _block_photos(fashion: FashionData, stop: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Nine real photos (three per masterCategory) and their features feeding block ``stop``, plain and mirrored."""
    products = fashion.products.groupby("masterCategory").head(3).head(9)
    return products, *block_maps(products, stop)


def _moved(head: HeadStage, pretrained: HeadStage, block: int) -> float:
    """Mean absolute change of block ``block``'s expansion weights from ImageNet's."""
    index = block - head.first_block
    with torch.no_grad():
        return float((head.blocks[index]._expand_conv.weight - pretrained.blocks[index]._expand_conv.weight)
                     .abs().mean())


def test_block_lr_decay_moves_the_lower_blocks_less(fashion: FashionData) -> None:
    """Deeper fine-tuning (blocks 13-15): with a learning-rate decay per block the lowest trained block
    moves far less than without, while block 15 (at the full rate either way) moves alike."""
    first = 13
    products, cached, mirrored = _block_photos(fashion, first)
    train = np.arange(len(products)) % 3 != 0
    labels = {"masterCategory": products["masterCategory"].to_numpy()}
    heads = {decay: finetune_head(cached, labels, train, epochs=2, batch_size=3, lr=1e-3, seed=0,
                                  flipped=mirrored, first_block=first, block_lr_decay=decay)
             for decay in (1.0, 0.1)}
    pretrained = HeadStage(pretrained_net(), first)
    full, decayed = (_moved(heads[d], pretrained, 13) for d in (1.0, 0.1))
    assert full > 0 and decayed > 0  # every block from train_from on is trained
    assert decayed < full / 10  # block 13 learns at lr * 0.1 ** 2
    top_full, top_decayed = (_moved(heads[d], pretrained, 15) for d in (1.0, 0.1))
    assert 0.5 < top_decayed / top_full < 2
    with pytest.raises(ValueError, match="block_lr_decay"):
        finetune_head(cached, labels, train, epochs=1, first_block=first, block_lr_decay=0.0)


def test_refit_schedule_and_the_head_cache(fashion: FashionData, tmp_path: Path) -> None:
    """A refit runs the chosen epochs under the longer schedule (so it differs from a schedule cut to
    those epochs), and the bench's head cache trains once per key and reads the same head back."""
    from shopintent.evaluation.benchmarks.multimodal import _cached_finetune

    products, cached, mirrored = _block_photos(fashion, 15)
    train = np.ones(len(products), bool)
    labels = {"masterCategory": products["masterCategory"].to_numpy()}

    def fit(schedule: int) -> HeadStage:
        return finetune_head(cached, labels, train, epochs=1, batch_size=3, lr=1e-3, seed=0, flipped=mirrored,
                             first_block=15, schedule_epochs=schedule)

    cut, longer = fit(1), fit(3)
    assert len(longer.history_) == 1 and longer.best_epoch_ == 1
    assert not torch.equal(cut.conv_head.weight, longer.conv_head.weight)  # same data and order, other rates
    with pytest.raises(ValueError, match="schedule_epochs"):
        finetune_head(cached, labels, train, epochs=2, first_block=15, schedule_epochs=1)
    calls = []

    def train_once() -> HeadStage:
        calls.append(1)
        return longer

    key = {"recipe": "test", "rows": int(train.sum())}
    first = _cached_finetune(tmp_path, key, 15, train_once)
    again = _cached_finetune(tmp_path, key, 15, train_once)
    assert len(calls) == 1
    assert again.best_epoch_ == first.best_epoch_ == 1
    for name, value in first.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name
    np.testing.assert_array_equal(head_embeddings(cached, again), head_embeddings(cached, first))


def test_shift_mixup_and_ema_on_real_photos(fashion: FashionData) -> None:
    """The cache-side options on real block-11 maps (14x14): a shift is a real translation of each map, and
    training with shift + mixup or with a weight average gives other heads than plain training; the
    averaged head lags the last step, so it has moved less from ImageNet than the plainly trained one."""
    first = 11
    products, cached, mirrored = _block_photos(fashion, first)
    maps = torch.from_numpy(cached.astype(np.float32))
    shifted = shift_maps(maps, 1, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(maps, (1, 1, 1, 1), mode="replicate")
    offsets = []
    for row in range(len(maps)):
        found = [(dy, dx) for dy in range(3) for dx in range(3)
                 if torch.equal(shifted[row], padded[row, :, dy : dy + 14, dx : dx + 14])]
        assert found, row  # every map is one of the nine one-cell translations of itself
        offsets.append(found[0])
    assert set(offsets) != {(1, 1)}  # and not all of them the identity
    train = np.arange(len(products)) % 3 != 0
    labels = {"masterCategory": products["masterCategory"].to_numpy()}
    common = {"epochs": 2, "batch_size": 3, "lr": 1e-3, "seed": 0, "flipped": mirrored, "first_block": first,
              "valid": ~train, "select_task": "masterCategory"}
    plain = finetune_head(cached, labels, train, **common)
    augmented = finetune_head(cached, labels, train, shift=1, mixup=0.4, **common)
    averaged = finetune_head(cached, labels, train, ema=0.9, **common)
    for head in (augmented, averaged):
        assert len(head.history_) == 2 and not np.isnan(head.history_).any()
        assert not torch.equal(head.conv_head.weight, plain.conv_head.weight)
    pretrained = HeadStage(pretrained_net(), first)
    with torch.no_grad():
        moved = {name: float((h.conv_head.weight - pretrained.conv_head.weight).abs().mean())
                 for name, h in (("plain", plain), ("averaged", averaged))}
    assert 0 < moved["averaged"] < moved["plain"]
    for bad in ({"shift": -1}, {"mixup": -0.1}, {"ema": 1.0}):
        with pytest.raises(ValueError, match="shift="):
            finetune_head(cached, labels, train, epochs=1, first_block=first, **bad)


def test_refit_states_per_epoch_equal_the_refit_of_that_many_epochs(fashion: FashionData) -> None:
    """``multimodal_understanding --prefit-refit`` caches, after each epoch of one run, the head the bench's
    refit of that many epochs would train (same schedule, EMA recipe): checked bit for bit on real photos."""
    from benchmarks.multimodal_understanding import ema_states_per_epoch

    products, cached, mirrored = _block_photos(fashion, 15)
    train = np.ones(len(products), bool)
    labels = {"masterCategory": products["masterCategory"].to_numpy()}
    options = {"lr": 1e-3, "seed": 0, "flipped": mirrored, "first_block": 15, "shift": 1, "ema": 0.9}
    states: dict[int, dict[str, torch.Tensor]] = {}
    ema_states_per_epoch(cached, labels, train, lambda k, state: states.setdefault(k, state), epochs=2,
                         batch_size=4, **options)
    assert sorted(states) == [1, 2]
    for epochs in (1, 2):
        refit = finetune_head(cached, labels, train, epochs=epochs, schedule_epochs=2, batch_size=4, **options)
        for name, value in refit.state_dict().items():
            assert torch.equal(value, states[epochs][name]), (epochs, name)


def test_cropped_photo_views_on_real_photos(fashion: FashionData, tmp_path: Path) -> None:
    """Random resized crops as extra training views: each crop is a fixed function of file and view number
    (re-encoding gives the same maps, the cache stores it as its own variant), differs from the photo and from
    the other crop, and training that draws among plain, mirrored and cropped maps gives another head than
    training on plain and mirrored alone; a crop is never asked to be mirrored on top."""
    from shopintent.multimodal.cache import cached_trunk, encode_paths

    first = 15
    products, cached, mirrored = _block_photos(fashion, first)
    paths = [Path(p) for p in products["path"]]
    crops = [encode_paths(paths, stop=first, crop=k)[0] for k in (1, 2)]
    again, ok, _ = encode_paths(paths[:3], stop=first, crop=1)
    assert ok.all()
    np.testing.assert_array_equal(again, crops[0][:3])
    for crop in crops:
        assert (np.abs(crop.astype(np.float32) - cached.astype(np.float32)).mean(axis=(1, 2, 3)) > 0.01).all()
    assert not np.array_equal(crops[0], crops[1])
    stored, stored_ok, _ = cached_trunk(paths, "test-photos", tmp_path, stop=first, crop=1)
    # the cache runs the ONNX export of the trunk, the direct call eager torch: equal to float16 rounding
    np.testing.assert_allclose(stored.astype(np.float32), crops[0].astype(np.float32), atol=2e-2)
    assert stored_ok.all() and any("trunk15-crop1-" in f.name for f in tmp_path.rglob("*.safetensors"))
    with pytest.raises(ValueError, match="exclusive"):
        encode_paths(paths[:1], stop=first, flip=True, crop=1)
    train = np.arange(len(products)) % 3 != 0
    labels = {"masterCategory": products["masterCategory"].to_numpy()}
    common = {"epochs": 2, "batch_size": 3, "lr": 1e-3, "seed": 0, "first_block": first, "valid": ~train,
              "select_task": "masterCategory"}
    plain = finetune_head(cached, labels, train, flipped=mirrored, **common)
    cropped = finetune_head(cached, labels, train, flipped=mirrored, views=crops, **common)
    assert len(cropped.history_) == 2 and not np.isnan(cropped.history_).any()
    assert not torch.equal(cropped.conv_head.weight, plain.conv_head.weight)
    with pytest.raises(ValueError, match="pass flipped too"):
        finetune_head(cached, labels, train, views=crops, **common)
