"""A searchable product index: image embeddings, the text-to-image projection and attribute heads.

Why one object: ``shopintent multimodal index|search``, ``POST /v1/products``
and ``GET /v1/search`` all need the same three things — where each product
sits in the shared text-image space, how to put a new photo there, and what
the photo says about the product's attributes — saved once, without pickle
(safetensors + JSON through :mod:`shopintent.persist`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shopintent.log import get_logger
from shopintent.multimodal.attributes import fill
from shopintent.multimodal.contrastive import MIN_STEPS, ContrastiveProjection
from shopintent.multimodal.encoder import head_embeddings
from shopintent.multimodal.heads import SoftmaxHead
from shopintent.multimodal.images import decode_image
from shopintent.multimodal.onnx_export import ensure_trunk, run
from shopintent.multimodal.text import embed_texts
from shopintent.persist import (
    begin_save, load_arrays, load_tensors, read_model_json, save_arrays, save_tensors,
    write_manifest, write_model_json,
)

log = get_logger(__name__)

KIND = "ProductIndex"
VERSION = 1
RETRAIN = "shopintent multimodal index --images DIR --labels CSV ..."


def _head_arrays(name: str, head: SoftmaxHead) -> dict[str, np.ndarray]:
    assert head.linear_ is not None
    return {
        f"{name}.mean": head.mean_.astype(np.float32), f"{name}.scale": head.scale_.astype(np.float32),
        f"{name}.weight": head.linear_.weight.detach().numpy(), f"{name}.bias": head.linear_.bias.detach().numpy(),
    }


def _head_from(name: str, arrays: Mapping[str, np.ndarray], classes: Sequence[str]) -> SoftmaxHead:
    head = SoftmaxHead()
    head.classes_ = np.asarray(classes)
    head.mean_, head.scale_ = arrays[f"{name}.mean"], arrays[f"{name}.scale"]
    weight = torch.from_numpy(arrays[f"{name}.weight"].copy())
    head.linear_ = torch.nn.Linear(weight.shape[1], weight.shape[0])
    head.linear_.weight.data, head.linear_.bias.data = weight, torch.from_numpy(arrays[f"{name}.bias"].copy())
    return head


@dataclass
class ProductIndex:
    """Products in the shared text-image space, plus per-attribute image heads.

    ``ids``/``titles``/``image_embeddings`` are row-aligned; ``shared`` is the
    projection of ``image_embeddings`` (unit vectors, cosine = dot product).
    """

    projection: ContrastiveProjection
    heads: dict[str, SoftmaxHead] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    image_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 1280), np.float32))
    shared: np.ndarray = field(default_factory=lambda: np.zeros((0, 256), np.float32))
    paths: list[str] = field(default_factory=list)  # each product's photo file ("" when unknown)
    state_dir: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls, ids: Sequence[str], titles: Sequence[str], image_embeddings: np.ndarray,
        labels: Mapping[str, Sequence[str]] | None = None, seed: int = 0, state_dir: Path | None = None,
        epochs: int = 40, paths: Sequence[str] | None = None, min_steps: int = MIN_STEPS,
    ) -> ProductIndex:
        """Train the projection on (image, title) pairs and one image head per label column
        (``min_steps``: the projection's fewest optimiser steps, :class:`ContrastiveProjection`)."""
        title_emb = embed_texts(titles, state_dir)
        projection = ContrastiveProjection(seed=seed, epochs=epochs, min_steps=min_steps).fit(image_embeddings,
                                                                                              title_emb)
        heads = {}
        for task, values in (labels or {}).items():
            values = np.asarray(values).astype(str)
            known = values != ""
            if len(set(values[known])) >= 2:
                heads[task] = SoftmaxHead(seed=seed).fit(image_embeddings[known], values[known])
        return cls(
            projection=projection, heads=heads, ids=[str(i) for i in ids], titles=list(titles),
            image_embeddings=image_embeddings.astype(np.float32),
            shared=projection.embed_images(image_embeddings), state_dir=state_dir,
            paths=[str(p) for p in paths] if paths is not None else [""] * len(ids),
        )

    def embed_image_bytes(self, data: bytes, name: str) -> np.ndarray:
        """The 1280-d frozen embedding of one uploaded photo (raises ImageError naming ``name``)."""
        image = decode_image(data, name)[None]
        trunk = run(ensure_trunk(self.state_dir or Path(".")), image)
        return head_embeddings(trunk.astype(np.float32))[0]

    def attributes(self, embedding: np.ndarray) -> dict[str, dict[str, Any]]:
        """Predicted attribute -> {value, confidence} from the image alone."""
        out = {}
        for task, head in self.heads.items():
            values, confidence = fill(head, embedding[None], threshold=0.0)
            out[task] = {"value": str(values[0]), "confidence": round(float(confidence[0]), 4)}
        return out

    def add(self, product_id: str, title: str, embedding: np.ndarray, path: str = "") -> None:
        """Add or replace one product (thread-safe; the service calls it per upload)."""
        shared = self.projection.embed_images(embedding[None])
        with self._lock:
            if product_id in self.ids:
                row = self.ids.index(product_id)
                self.titles[row] = title
                self.paths[row] = path
                self.image_embeddings[row] = embedding
                self.shared[row] = shared[0]
                return
            self.ids.append(product_id)
            self.titles.append(title)
            self.paths.append(path)
            self.image_embeddings = np.vstack([self.image_embeddings, embedding[None]])
            self.shared = np.vstack([self.shared, shared])

    def search(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """Products whose photo best matches a zh/en text query, with cosine scores."""
        if not query.strip():
            raise ValueError("query `q` is empty")
        vector = self.projection.embed_texts(embed_texts([query], self.state_dir))[0]
        return self._top(self.shared @ vector, k)

    def similar(self, product_id: str, k: int = 10) -> list[dict[str, Any]]:
        """Products whose photo looks most like ``product_id``'s (itself excluded)."""
        if product_id not in self.ids:
            raise KeyError(f"product {product_id!r} is not in the index")
        row = self.ids.index(product_id)
        scores = self.shared @ self.shared[row]
        scores[row] = -np.inf
        return self._top(scores, k)

    def image_path(self, product_id: str) -> Path | None:
        """The photo file of a product, when the index knows one."""
        if product_id not in self.ids:
            return None
        path = self.paths[self.ids.index(product_id)]
        return Path(path) if path and Path(path).is_file() else None

    def _top(self, scores: np.ndarray, k: int) -> list[dict[str, Any]]:
        order = np.argsort(-scores, kind="stable")[:k]
        return [{"id": self.ids[i], "title": self.titles[i], "score": round(float(scores[i]), 4)} for i in order]

    def save(self, directory: Path) -> Path:
        """Write the index (model.json + safetensors + manifest)."""
        out = begin_save(directory)
        save_tensors(out / "projection.safetensors", self.projection.state())
        arrays = {"image_embeddings": self.image_embeddings, "shared": self.shared}
        for task, head in self.heads.items():
            arrays.update(_head_arrays(f"head.{task}", head))
        save_arrays(out / "index.safetensors", arrays)
        write_model_json(out, KIND, VERSION, {
            "dim": self.projection.dim, "hidden": self.projection.hidden,
            "classes": {t: [str(c) for c in h.classes_] for t, h in self.heads.items()},
            "ids": self.ids, "titles": self.titles, "paths": self.paths,
        })
        write_manifest(out)
        return out

    @classmethod
    def load(cls, directory: Path, state_dir: Path | None = None) -> ProductIndex:
        """Read an index written by :meth:`save` (manifest verified first)."""
        meta = read_model_json(Path(directory), KIND, VERSION, retrain=RETRAIN)
        params = meta["parameters"]
        projection = ContrastiveProjection.from_state(
            load_tensors(Path(directory) / "projection.safetensors"), params["dim"], params["hidden"]
        )
        arrays = load_arrays(Path(directory) / "index.safetensors")
        heads = {t: _head_from(f"head.{t}", arrays, c) for t, c in params["classes"].items()}
        return cls(
            projection=projection, heads=heads, ids=list(params["ids"]), titles=list(params["titles"]),
            image_embeddings=arrays["image_embeddings"].copy(), shared=arrays["shared"].copy(), state_dir=state_dir,
            paths=list(params.get("paths", [""] * len(params["ids"]))),
        )
