"""The recommender the HTTP service and the demo use, trained on the Taobao events.

``load_default_recommender(settings)`` returns a fitted model with
``recommend(history, k) -> [(item_id, score), …]``. It is a hybrid of
session kNN, content (item category) and recent popularity over Taobao
sessions (30-minute gap), the blend learned on each session's last click.
It trains in seconds the first time and is cached under
``settings.state_dir/recommend/default``; the cache is reused while the
data checksum matches.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopintent import __version__
from shopintent.datasets import taobao_userbehavior_head
from shopintent.datasets.base import data_path
from shopintent.log import get_logger
from shopintent.persist import MODEL_FILE, LegacyModelError, has_manifest
from shopintent.recommend.data import items_from_events, sequences_checksum, sequences_from_events
from shopintent.recommend.serving import ServedHybrid
from shopintent.settings import Settings

if TYPE_CHECKING:
    from shopintent.recommend.base import Recommender

log = get_logger(__name__)

#: The components of the default hybrid (cheap to train, strong on next-click data).
DEFAULT_COMPONENTS = (("sknn", {}), ("content", {}), ("pop", {"mode": "recent"}))

_lock = threading.Lock()
_cache: dict[Path, Recommender] = {}


def default_model_dir(settings: Settings) -> Path:
    """Where the default recommender is cached."""
    return settings.state_dir / "recommend" / "default"


def _checksum_file(target: Path) -> Path:
    # Beside the model folder, not in it: a re-train removes the folder.
    return target.with_name(target.name + ".sequences.json")


def _data_key(settings: Settings) -> dict[str, Any]:
    """What the training sequences depend on: the data file (size, mtime), the gap, the code version."""
    stat = data_path(taobao_userbehavior_head.SPEC, taobao_userbehavior_head.FILE, settings).stat()
    return {"file": taobao_userbehavior_head.FILE, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "gap_minutes": settings.session_gap_minutes, "version": __version__}


def _remembered_checksum(target: Path, key: dict[str, Any]) -> str | None:
    """The sequences' checksum computed at an earlier start from the same data file, else ``None``.

    Checking a cached model needs the checksum of the sequences it would be
    trained on; computing it reads and sessionises the whole Taobao file
    (seconds of CPU at every service start). While the file's size and mtime,
    the gap and the shopintent version are those it was computed for, the
    remembered value is the same.
    """
    try:
        saved = json.loads(_checksum_file(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("key") != key or not isinstance(saved.get("checksum"), str):
        return None
    return saved["checksum"]


def _remember_checksum(target: Path, key: dict[str, Any], checksum: str) -> None:
    path = _checksum_file(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"key": key, "checksum": checksum}), encoding="utf-8")
        scratch.replace(path)  # never a half-written file
    except OSError as exc:  # a read-only state folder: the next start computes it again
        log.warning("could not remember the training sequences' checksum", path=str(path), error=str(exc))


def _load_cached(target: Path, checksum: str) -> Recommender | None:
    """The cached model when it is of this format and trained on these sequences, else ``None``.

    A cache without a manifest (an older shopintent, or a save cut short) or
    of an older layout is re-trained; one whose files changed after the save
    is refused (:class:`~shopintent.persist.ModelFileError`).
    """
    from shopintent.recommend.base import Recommender

    if not has_manifest(target):
        log.warning("default recommender in an old format or unfinished: re-training", path=str(target))
        return None
    try:
        model = Recommender.load(target)
    except LegacyModelError as exc:
        log.warning("default recommender in an old format: re-training", reason=str(exc))
        return None
    if model.record_.get("training_sequences_checksum") != checksum:
        return None
    return model


def load_default_recommender(settings: Settings, retrain: bool = False) -> Recommender:
    """The default recommender: loaded from the cache, else trained on Taobao sessions and saved."""
    target = default_model_dir(settings)
    with _lock:
        if not retrain and target in _cache:
            return _cache[target]
        key = _data_key(settings)
        checksum = None if retrain else _remembered_checksum(target, key)
        events = sequences = None
        if checksum is None:
            events = taobao_userbehavior_head.load(settings).events
            sequences = sequences_from_events(events, by="session", gap_minutes=settings.session_gap_minutes)
            checksum = sequences_checksum([s for s in sequences])
            _remember_checksum(target, key, checksum)
        model: Recommender | None = None
        if not retrain and (target / MODEL_FILE).is_file():
            model = _load_cached(target, checksum)
        if model is None:
            if events is None or sequences is None:
                events = taobao_userbehavior_head.load(settings).events
                sequences = sequences_from_events(events, by="session",
                                                  gap_minutes=settings.session_gap_minutes)
            from shopintent.recommend.workflow import train_sequences

            log.info("training default recommender", sequences=len(sequences), path=str(target))
            if target.is_dir():
                shutil.rmtree(target)  # our own cache: nothing of an older save is left beside the new files
            model = train_sequences(
                sequences, "hybrid", target, items_from_events(events),
                {"components": [list(c) for c in DEFAULT_COMPONENTS], "blend_examples": 1000},
                record={
                    "training_sequences_checksum": checksum,
                    "source": f"{taobao_userbehavior_head.FILE} sessions "
                              f"({settings.session_gap_minutes:g}-min gap)",
                },
            )
        _cache[target] = model
        return model


def load_serving_recommender(settings: Settings) -> ServedHybrid | Recommender:
    """The default recommender as the service runs it: :class:`~shopintent.recommend.serving.ServedHybrid`
    (the same rankings, without scikit-learn or SciPy) when the cached model is current and a hybrid
    of components it scores; otherwise whatever :func:`load_default_recommender` gives."""
    target = default_model_dir(settings)
    checksum = _remembered_checksum(target, _data_key(settings))
    if checksum is not None and has_manifest(target) and ServedHybrid.can_serve(target):
        try:
            model = ServedHybrid.load(target)
        except LegacyModelError:
            model = None
        if model is not None and model.record_.get("training_sequences_checksum") == checksum:
            return model
    return load_default_recommender(settings)
