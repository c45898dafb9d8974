"""Fine-tuning the encoder's top on cached block features: a small real round trip and the validation rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shopintent.multimodal.encoder import HeadStage, ImageEncoder, Trunk, head_embeddings, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.finetune import finetune_head
from shopintent.multimodal.images import read_image

FIRST_BLOCK = 14  # cache the input of the last two MBConv blocks; fine-tune the last one and the head


def test_choosing_epochs_on_validation_needs_the_selected_tasks_classifier() -> None:
    trunk = np.zeros((4, 320, 7, 7), np.float16)
    mask = np.array([True, True, False, False])
    with pytest.raises(ValueError, match="select_task 'articleType'"):
        finetune_head(trunk, {"gender": np.array(["Men", "Women"] * 2)}, mask, valid=~mask)


def test_deeper_finetune_round_trip_on_real_photos(fashion: FashionData) -> None:
    products = fashion.products.groupby("masterCategory").head(3).head(9)
    photos = np.stack([read_image(Path(p)) for p in products["path"]])
    trunk_net = Trunk(pretrained_net(), stop=FIRST_BLOCK)
    with torch.inference_mode():
        cached = trunk_net(torch.from_numpy(photos)).numpy().astype(np.float16)
        mirrored = trunk_net(torch.from_numpy(np.ascontiguousarray(photos[..., ::-1]))).numpy().astype(np.float16)
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
    with torch.inference_mode():
        end_to_end = ImageEncoder(head)(torch.from_numpy(photos[:3])).numpy()
    np.testing.assert_allclose(end_to_end, head_embeddings(cached[:3].astype(np.float32), head), atol=2e-2)
    both = head_embeddings(cached[:3], head, flipped=mirrored[:3])
    np.testing.assert_allclose(both, (head_embeddings(cached[:3], head) + head_embeddings(mirrored[:3], head)) / 2,
                               atol=1e-5)
