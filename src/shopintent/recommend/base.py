"""The one shape every recommender has: ``fit``, ``score``, ``recommend``, ``save``/``load``.

A model learns from training sequences and scores the *whole* catalogue for
a batch of histories (a dense row per history). Full-ranking evaluation,
the hybrid blend and top-k serving are then written once against
:meth:`Recommender.score` instead of once per model.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from shopintent.log import get_logger
from shopintent.persist import (
    MANIFEST_FILE,
    ModelFileError,
    begin_save,
    read_json,
    read_model_json,
    write_json,
    write_manifest,
    write_model_json,
)
from shopintent.recommend.data import ItemIndex, sequences_checksum
from shopintent.recommend.serving import top_k_indices
from shopintent.schema.records import InteractionSequence, Item

log = get_logger(__name__)

__all__ = ["FORMAT_VERSION", "RETRAIN", "NotFittedError", "Recommender", "histories_matrix"]

#: Written into every model.json; bumped when the on-disk layout changes
#: (2: safetensors weights and a manifest; 1 wrote NumPy and torch files).
FORMAT_VERSION = 2
#: The command quoted when a saved recommender is refused.
RETRAIN = "shopintent recommend train"


class Recommender(BaseEstimator):
    """Base class: subclasses implement ``_fit``, ``_score`` and their state (de)serialisation.

    A scikit-learn estimator (``get_params``/``set_params``/``clone``) with no
    predictor mixin: it ranks a catalogue for histories, which is neither
    ``predict`` of one label per row nor a regression, and its :meth:`score`
    returns item scores (not a fit quality as scikit-learn's ``score`` does).

    ``fit(sequences, items=None, catalogue=None)`` indexes the catalogue (every
    item of ``catalogue`` or else of the sequences and ``items``) and learns;
    ``score(histories)`` returns a ``(len(histories), n_items + 1)`` float32
    array, column 0 being padding (``-inf``).
    """

    #: The name ``shopintent recommend --model`` knows this class by.
    kind: ClassVar[str] = "base"

    index_: ItemIndex
    data_checksum_: str
    metrics_: dict[str, Any]
    fit_seconds_: float
    #: Extra ``model.json`` fields a loaded model was saved with (``save(path, record=...)``).
    record_: dict[str, Any]

    # -- learning ----------------------------------------------------------------------------
    def fit(
        self,
        sequences: Sequence[InteractionSequence],
        items: Mapping[str, Item] | None = None,
        catalogue: Sequence[str] | None = None,
        valid: Sequence[Any] | None = None,
    ) -> Self:
        """Learn from ``sequences`` (oldest item first) over ``catalogue`` (default: every item seen or in ``items``).

        ``items`` gives attributes (content, cold start, SASRec fusion);
        ``valid`` examples drive early stopping or blending where a model uses them.
        """
        if not sequences:
            raise ValueError("fit needs at least one training sequence")
        start = time.perf_counter()
        # The catalogue, when given, is exactly what gets ranked (full-ranking evaluation passes
        # every item of the data set); otherwise every item seen or described is rankable.
        self.index_ = (
            ItemIndex(catalogue) if catalogue is not None
            else ItemIndex.from_sequences(sequences, list(items) if items else [])
        )
        self.items_ = {k: v for k, v in (items or {}).items() if k in self.index_}
        self.data_checksum_ = sequences_checksum(sequences)
        self.metrics_ = {}
        self.record_ = {}
        encoded = [self.index_.encode(seq.items) for seq in sequences]
        self._fit(encoded, sequences, valid)
        self.fit_seconds_ = time.perf_counter() - start
        log.info("recommender fitted", kind=self.kind, items=len(self.index_),
                 sequences=len(sequences), seconds=round(self.fit_seconds_, 2))
        return self

    def _fit(self, encoded: list[np.ndarray], sequences: Sequence[InteractionSequence],
             valid: Sequence[Any] | None) -> None:
        raise NotImplementedError

    # -- scoring -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every catalogue item for each encoded history (higher = recommend first)."""
        self._check_fitted()
        scores = np.asarray(self._score(histories), dtype=np.float32)
        scores[:, 0] = -np.inf
        return scores

    def _score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def recommend(
        self, history: Sequence[str], k: int = 10, exclude_seen: bool = True
    ) -> list[tuple[str, float]]:
        """Top-``k`` ``(item_id, score)`` for one history of item ids (oldest first).

        Unknown items in ``history`` are ignored; an empty or fully unknown
        history gets what the model gives to nobody in particular (for most
        models, the popular items).
        """
        self._check_fitted()
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        encoded = self.index_.encode(list(history))
        row = self.score([encoded])[0]
        if exclude_seen and len(encoded):
            row[encoded] = -np.inf
        top = top_k_indices(row, min(k, len(self.index_)))
        return [(self.index_.decode(int(i)), float(row[i])) for i in top if np.isfinite(row[i])][:k]

    def recommend_many(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[tuple[str, float]]]:
        """:meth:`recommend` for a batch (one scoring pass)."""
        self._check_fitted()
        encoded = [self.index_.encode(list(h)) for h in histories]
        scores = self.score(encoded)
        out = []
        for row, enc in zip(scores, encoded, strict=True):
            if exclude_seen and len(enc):
                row[enc] = -np.inf
            top = top_k_indices(row, min(k, len(self.index_)))
            out.append([(self.index_.decode(int(i)), float(row[i])) for i in top if np.isfinite(row[i])])
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path | str, record: Mapping[str, Any] | None = None) -> Path:
        """Write the weights (safetensors / JSON), ``model.json`` and the manifest to ``path``.

        ``model.json`` holds version, parameters, data checksum, metrics and
        any ``record`` fields (e.g. where the training data came from); the
        manifest, written last, lets :meth:`load` refuse a changed or foreign file.
        """
        self._check_fitted()
        path = begin_save(path)
        write_json(path / "items.json", self.index_.to_json(), indent=None)
        attributes = {k: list(v.attributes) for k, v in getattr(self, "items_", {}).items()}
        write_json(path / "attributes.json", attributes, indent=None)
        self._save_state(path)
        write_model_json(
            path, self.kind, FORMAT_VERSION, self.get_params(deep=False),
            data_checksum=self.data_checksum_,
            metrics=self.metrics_,
            fit_seconds=round(getattr(self, "fit_seconds_", 0.0), 3),
            n_items=len(self.index_),
            **(record or {}),
        )
        write_manifest(path)
        self.record_ = dict(record or {})
        return path

    def _save_state(self, path: Path) -> None:
        raise NotImplementedError

    def _load_state(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path | str) -> Recommender:
        """Read a model written by :meth:`save` (any kind; the class comes from ``model.json``).

        The manifest is verified before anything else is read.
        """
        from shopintent.recommend.registry import MODELS, model_class

        path = Path(path)
        meta = read_model_json(path, tuple(MODELS), FORMAT_VERSION, retrain=RETRAIN)
        klass = model_class(meta["kind"])
        if cls is not Recommender and not issubclass(klass, cls):
            raise TypeError(f"{path} holds a {meta['kind']} model, not a {cls.kind}")
        model = klass(**meta["parameters"])
        outermost = getattr(_load_scope, "memo", None) is None
        if outermost:
            _load_scope.memo = {}
        try:
            digests = _listed_sha256s(path)  # the manifest, read once for both files
            model.index_ = _shared(digests, "items.json", lambda: ItemIndex(read_json(path / "items.json")))
            model.items_ = _shared(digests, "attributes.json", lambda: ItemRecords(
                path / "attributes.json", digests.get("attributes.json")))
            model.data_checksum_ = meta["data_checksum"]
            model.metrics_ = meta.get("metrics", {})
            model.fit_seconds_ = meta.get("fit_seconds", 0.0)
            model.record_ = {k: v for k, v in meta.items() if k not in _MODEL_JSON_FIELDS}
            model._load_state(path)  # a hybrid loads its components here, inside this scope
        finally:
            if outermost:
                _load_scope.memo = None
        return model


#: Per-thread memo of one outermost :meth:`Recommender.load` (a hybrid and its components).
_load_scope = threading.local()


def _shared(digests: Mapping[str, str], name: str, build: Callable[[], Any]) -> Any:
    """``build()`` once per outermost load for files with the same verified SHA-256.

    A hybrid and each of its components save the same ``items.json`` and
    ``attributes.json``; building the item index and item records once instead
    of once per folder is most of a cached hybrid's load time. The objects are
    shared as :meth:`Hybrid.from_fitted` already shares them after a fit (they
    are never changed in place). The manifest was verified just before, so equal
    hashes mean equal files (``digests``: the folder's, :func:`_listed_sha256s`); a folder
    without a manifest builds its own.
    """
    memo = getattr(_load_scope, "memo", None)
    digest = digests.get(name)
    if memo is None or digest is None:
        return build()
    key = (name, digest)
    if key not in memo:
        memo[key] = build()
    return memo[key]


def _listed_sha256s(path: Path) -> dict[str, str]:
    """The SHA-256 per file that ``path``'s manifest lists (``{}``: no readable manifest)."""
    try:
        files = read_json(path / MANIFEST_FILE)["files"]
        return {name: entry["sha256"] for name, entry in files.items()
                if isinstance(entry, dict) and isinstance(entry.get("sha256"), str)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


class ItemRecords(Mapping[str, Item]):
    """A loaded model's item records (``items_``), read from ``attributes.json`` on first use.

    Why lazy: the default hybrid's catalogue is ~55k items, and parsing the file and building a
    record per item was ~0.4-0.6 s CPU of the service's start, while serving recommendations
    never reads them (only fitting, saving and SASRec with attributes do). The file is read at
    the first lookup and checked against the SHA-256 its manifest listed when the model was
    loaded (``sha256``; ``None`` for a folder without a manifest), so a file changed since then is
    refused, not used. Read-only, as the plain dict it replaces was never changed in place.
    """

    def __init__(self, file: Path, sha256: str | None) -> None:
        self.file = Path(file)
        self.sha256 = sha256
        self._records: dict[str, Item] | None = None

    def _built(self) -> dict[str, Item]:
        # No lock: two threads racing here build equal dicts and one wins, which is harmless.
        if self._records is None:
            self._records = _read_item_records(self.file, self.sha256)
        return self._records

    def __getitem__(self, item_id: str) -> Item:
        return self._built()[item_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._built()

    def __repr__(self) -> str:
        state = "not read yet" if self._records is None else f"{len(self._records)} items"
        return f"ItemRecords({str(self.file)!r}, {state})"


def _read_item_records(file: Path, sha256: str | None) -> dict[str, Item]:
    """``attributes.json`` (item id → attribute list) as records; refused when its bytes are not the
    ones the manifest listed, or it is not such an object."""
    raw = file.read_bytes()
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise ModelFileError(file.parent, file.name, "changed since the model was loaded (SHA-256 differs "
                             "from its manifest)", f"reload the model, or re-train with `{RETRAIN}`")
    try:
        attributes = json.loads(raw)
        if not isinstance(attributes, dict):
            raise ValueError(f"a JSON {type(attributes).__name__}, not an object of item id → attributes")
        return {k: Item(item_id=k, attributes=tuple(v)) for k, v in attributes.items()}
    except (ValueError, TypeError) as exc:
        raise ModelFileError(file.parent, file.name, f"is not readable item attributes ({exc})",
                             f"re-train with `{RETRAIN}`") from exc


#: ``model.json`` fields every recommender writes; anything else is the caller's ``record``.
_MODEL_JSON_FIELDS = frozenset({"kind", "format_version", "shopintent_version", "parameters",
                                "data_checksum", "metrics", "fit_seconds", "n_items"})


def histories_matrix(histories: Sequence[np.ndarray], width: int, weights: str = "binary"):  # type: ignore[no-untyped-def]
    """Histories as a sparse ``(n, width)`` matrix: binary, or linearly position-weighted.

    ``weights="linear"`` gives the i-th of n items weight ``i/n`` (the most
    recent 1), the V-SKNN decay; a repeated item keeps its latest weight.
    """
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for r, hist in enumerate(histories):
        n = len(hist)
        if n == 0:
            continue
        w = np.ones(n) if weights == "binary" else np.arange(1, n + 1) / n
        latest: dict[int, float] = {}
        for item, weight in zip(hist.tolist(), w.tolist(), strict=True):
            latest[item] = weight
        rows.extend([r] * len(latest))
        cols.extend(latest.keys())
        vals.extend(latest.values())
    return sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                         shape=(len(histories), width))
