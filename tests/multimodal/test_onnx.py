"""The ONNX export of the image encoder returns what torch returns on real product photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shopintent.multimodal.encoder import ImageEncoder, Trunk, pretrained_net
from shopintent.multimodal.fashion import FashionData
from shopintent.multimodal.images import read_image
from shopintent.multimodal.onnx_export import export, export_encoder, run


def test_exported_encoder_and_trunk_equal_torch_on_real_photos(fashion: FashionData, tmp_path: Path) -> None:
    photos = np.stack([read_image(Path(p)) for p in fashion.products["path"].iloc[:: 2000]])  # 5 photos
    encoder = ImageEncoder()
    with torch.inference_mode():
        want = encoder(torch.from_numpy(photos)).numpy()
        want_trunk = Trunk(pretrained_net())(torch.from_numpy(photos)).numpy()
    got = run(export_encoder(tmp_path / "encoder.onnx", encoder), photos)
    got_trunk = run(export(Trunk(pretrained_net()), tmp_path / "trunk.onnx"), photos)
    assert got.shape == (5, 1280) and got_trunk.shape == (5, 320, 7, 7)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(got_trunk, want_trunk, atol=1e-4, rtol=1e-4)
    # the photos differ: the embedding is not a constant
    assert np.abs(want[0] - want[1]).max() > 0.1
