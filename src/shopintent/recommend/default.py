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

import shutil
import threading
from pathlib import Path

from shopintent.datasets import taobao_userbehavior_head
from shopintent.log import get_logger
from shopintent.persist import MODEL_FILE, LegacyModelError, has_manifest
from shopintent.recommend.base import Recommender
from shopintent.recommend.data import items_from_events, sequences_checksum, sequences_from_events
from shopintent.recommend.workflow import train_sequences
from shopintent.settings import Settings

log = get_logger(__name__)

#: The components of the default hybrid (cheap to train, strong on next-click data).
DEFAULT_COMPONENTS = (("sknn", {}), ("content", {}), ("pop", {"mode": "recent"}))

_lock = threading.Lock()
_cache: dict[Path, Recommender] = {}


def default_model_dir(settings: Settings) -> Path:
    """Where the default recommender is cached."""
    return settings.state_dir / "recommend" / "default"


def _load_cached(target: Path, checksum: str) -> Recommender | None:
    """The cached model when it is of this format and trained on these sequences, else ``None``.

    A cache without a manifest (an older shopintent, or a save cut short) or
    of an older layout is re-trained; one whose files changed after the save
    is refused (:class:`~shopintent.persist.ModelFileError`).
    """
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
        events = taobao_userbehavior_head.load(settings).events
        sequences = sequences_from_events(events, by="session", gap_minutes=settings.session_gap_minutes)
        checksum = sequences_checksum([s for s in sequences])
        model: Recommender | None = None
        if not retrain and (target / MODEL_FILE).is_file():
            model = _load_cached(target, checksum)
        if model is None:
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
