"""The service's product catalogue: the saved index plus products uploaded while it runs.

Why its own module: ``POST /v1/products`` and ``GET /v1/search`` need one
shared, thread-safe object that loads the index written by
``shopintent multimodal index`` and keeps each upload's embedding on disk
(safetensors, no pickle), so uploads survive a restart without rewriting the
whole index per request.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopintent.log import get_logger
from shopintent.persist import load_arrays, read_json, save_arrays, write_json
from shopintent.privacy.scrub import scrub_text

if TYPE_CHECKING:  # torch loads only when a product route is first used, not at service start
    from shopintent.multimodal.index import ProductIndex

log = get_logger(__name__)


class NoProductIndex(RuntimeError):
    """The state folder has no product index yet."""


def index_dir(state_dir: Path) -> Path:
    """Where ``multimodal index`` writes the service's index by default."""
    return Path(state_dir) / "multimodal" / "index"


class ProductCatalogue:
    """Loads the index once, adds uploaded products, answers text searches."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.uploads = self.state_dir / "multimodal" / "uploads"
        self._index: ProductIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> ProductIndex:
        """The loaded index (with earlier uploads), or :class:`NoProductIndex` naming the fix."""
        from shopintent.multimodal.index import ProductIndex

        with self._lock:
            if self._index is None:
                folder = index_dir(self.state_dir)
                if not (folder / "model.json").is_file():
                    raise NoProductIndex(
                        f"no product index in {folder}; build one with `shopintent multimodal index "
                        "--images DIR --labels CSV --title-col COL`"
                    )
                index = ProductIndex.load(folder, state_dir=self.state_dir)
                for meta in sorted(self.uploads.glob("*.json")):
                    record = read_json(meta)
                    emb = load_arrays(meta.with_suffix(".safetensors"))["embedding"]
                    index.add(record["id"], record["title"], emb, record.get("path", ""))
                self._index = index
                log.info("product index loaded", products=len(index.ids))
            return self._index

    def add(self, product_id: str, title: str, image: bytes) -> dict[str, Any]:
        """Embed an uploaded photo, store it, and return the predicted attributes."""
        index = self.index()
        title = scrub_text(title)
        embedding = index.embed_image_bytes(image, f"product {product_id!r} image")
        self.uploads.mkdir(parents=True, exist_ok=True)
        stem = self.uploads / hashlib.sha256(product_id.encode()).hexdigest()[:24]
        photo = stem.with_suffix(".image")
        photo.write_bytes(image)
        index.add(product_id, title, embedding, str(photo))
        save_arrays(stem.with_suffix(".safetensors"), {"embedding": embedding.astype(np.float32)})
        write_json(stem.with_suffix(".json"), {"id": product_id, "title": title, "path": str(photo)})
        return {"id": product_id, "title": title, "embedding_dim": int(embedding.shape[0]),
                "attributes": index.attributes(embedding), "products": len(index.ids)}

    def image(self, product_id: str) -> Path | None:
        """The stored photo of a product (for the dashboard), or None."""
        return self.index().image_path(product_id)

    def search(self, query: str, k: int) -> list[dict[str, Any]]:
        """Products for a zh/en text query, best first, with cosine scores."""
        return self.index().search(query, k)
