"""Frozen image features computed once per data set and kept as safetensors under the state folder.

Why: the trunk costs ~0.1-0.5 s per image on a shared 2-core CPU, everything
trained above it (heads, fusion, the contrastive projection, the fine-tuned
last stage) takes seconds. The cache is keyed by the SHA-256 of the images and
labels, so changed data can never reuse stale features; it is written in
shards, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shopintent.log import get_logger
from shopintent.multimodal.augment import crop_view
from shopintent.multimodal.encoder import head_embeddings, trunk_features, trunk_shape
from shopintent.multimodal.images import ImageError, read_image
from shopintent.multimodal.onnx_export import ensure_trunk
from shopintent.persist import load_arrays, read_json, save_arrays, write_json

log = get_logger(__name__)

SHARD = 512


def cache_dir(state_dir: Path, sha256: str) -> Path:
    """Where the features of the data set with this SHA-256 live."""
    return Path(state_dir) / "multimodal" / "features" / sha256[:24]


def encode_paths(
    paths: Sequence[Path], threads: int = 1, batch_size: int = 16, onnx_path: Path | None = None,
    stop: int | None = None, flip: bool = False, crop: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Trunk features (first ``stop`` blocks) of the readable images, mirrored left to right with ``flip``,
    or of their ``crop``-th random resized crop (:func:`shopintent.multimodal.augment.crop_view`) when
    ``crop`` >= 1; returns (features, ok mask, {file: error})."""
    if flip and crop:
        raise ValueError("a crop view is mirrored at random already; flip and crop are exclusive")
    ok = np.zeros(len(paths), dtype=bool)
    errors: dict[str, str] = {}
    good: list[np.ndarray] = []
    for i, path in enumerate(paths):
        try:
            image = read_image(Path(path))
            if crop:
                image = crop_view(image, Path(path).name, crop)
            good.append(np.ascontiguousarray(image[:, :, ::-1]) if flip else image)
            ok[i] = True
        except ImageError as exc:
            errors[str(path)] = str(exc)
            log.warning("image skipped", file=str(path), reason=str(exc))
    feats = trunk_features(good, batch_size=batch_size, threads=threads, onnx_path=onnx_path, stop=stop)
    full = np.zeros((len(paths), *trunk_shape(stop)), dtype=np.float16)
    full[ok] = feats
    return full, ok, errors


def cached_trunk(
    paths: Sequence[Path], sha256: str, state_dir: Path, threads: int = 1, stop: int | None = None,
    flip: bool = False, crop: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Trunk features (n,320,7,7) float16 for ``paths``, computed shard by shard and cached.

    ``stop``: cache the output of the first ``stop`` MBConv blocks instead (the input of a deeper
    fine-tuned head); ``flip``: of the photos mirrored left to right (training augmentation and
    test-time flip averaging, computed on the real mirrored photo); ``crop``: of the photos' ``crop``-th
    random resized crop (training augmentation, :mod:`shopintent.multimodal.augment`). Each variant has its
    own shards.
    Returns the features, a mask of images that decoded, and the errors of those that did not.
    """
    folder = cache_dir(state_dir, sha256)
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = ensure_trunk(state_dir, stop)
    prefix = ("trunk" + ("" if stop is None else f"{stop}") + ("-flip" if flip else "")
              + (f"-crop{crop}" if crop else ""))
    parts, masks, errors = [], [], {}
    for start in range(0, len(paths), SHARD):
        shard = folder / f"{prefix}-{start:06d}.safetensors"
        chunk = list(paths[start : start + SHARD])
        if shard.is_file():
            arrays = load_arrays(shard)
            if len(arrays["ok"]) == len(chunk):
                parts.append(arrays["trunk"])
                masks.append(arrays["ok"].astype(bool))
                notes = shard.with_suffix(".errors.json")
                if notes.is_file():
                    errors.update(read_json(notes))
                continue
        feats, ok, errs = encode_paths(chunk, threads=threads, onnx_path=onnx_path, stop=stop, flip=flip, crop=crop)
        errors.update(errs)
        tmp = shard.with_suffix(".tmp")
        save_arrays(tmp, {"trunk": feats, "ok": ok.astype(np.uint8)})
        if errs:
            write_json(shard.with_suffix(".errors.json"), errs)
        tmp.replace(shard)  # atomic: a reader never sees half a shard
        log.info("image features cached", shard=shard.name, done=start + len(chunk), total=len(paths))
        parts.append(feats)
        masks.append(ok)
    if not parts:
        return np.zeros((0, *trunk_shape(stop)), np.float16), np.zeros(0, bool), {}
    return np.concatenate(parts), np.concatenate(masks), errors


def cached_embeddings(trunk: np.ndarray, sha256: str, state_dir: Path) -> np.ndarray:
    """The frozen (pretrained head) 1280-d embeddings of cached trunk features, cached too."""
    file = cache_dir(state_dir, sha256) / "frozen.safetensors"
    if file.is_file():
        emb = load_arrays(file)["embeddings"]
        if len(emb) == len(trunk):
            return emb
    emb = head_embeddings(trunk)
    save_arrays(file, {"embeddings": emb})
    return emb
