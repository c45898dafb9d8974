"""A lazily loaded model with a reason when it is not available."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from shopintent.log import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class ModelUnavailable(RuntimeError):
    """A model the request needs is not loaded; ``reason`` says why and what to do."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"{model}: {reason}")
        self.model = model
        self.reason = reason


class ModelSlot(Generic[T]):
    """Holds one model: loads it on first use, remembers why it could not, retries later."""

    def __init__(self, name: str, loader: Callable[[], tuple[T, dict[str, Any]]],
                 retry_after_s: float = 30.0) -> None:
        self.name = name
        self._loader = loader
        self.retry_after_s = retry_after_s
        self._model: T | None = None
        self.card: dict[str, Any] = {}
        self._reason = "not loaded yet"
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The model; raises :class:`ModelUnavailable` with the reason while it is not loaded.

        Never loads: loading (which may train a default model) happens on the
        service's loader thread, so no request waits for it.
        """
        model = self._model
        if model is None:
            raise ModelUnavailable(self.name, self._reason)
        return model

    def due(self) -> bool:
        """Whether a load should be tried now (never tried, or failed long enough ago)."""
        return self._model is None and (
            self._failed_at is None or time.monotonic() - self._failed_at >= self.retry_after_s)

    def load(self) -> bool:
        """Try to load now (blocking); True when the model is ready."""
        with self._lock:
            if self._model is not None:
                return True
            self._reason = "loading"
            try:
                model, card = self._loader()
            except ModelUnavailable as exc:
                self._reason, self._failed_at = exc.reason, time.monotonic()
                return False
            except Exception as exc:  # a broken model file must not take the service down
                self._reason = f"loading failed: {type(exc).__name__}: {str(exc)[:300]}"
                self._failed_at = time.monotonic()
                log.warning("model load failed", model=self.name, reason=self._reason)
                return False
            self._model, self.card = model, card
            log.info("model loaded", model=self.name, version=card.get("version"))
            return True

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def state(self) -> str:
        """``ready``; ``loading`` (not tried yet, or a load running); ``unavailable`` (the last
        load failed and waits for its retry)."""
        if self._model is not None:
            return "ready"
        if self._failed_at is None or self._lock.locked():
            return "loading"
        return "unavailable"

    def status(self) -> dict[str, Any]:
        """Name, readiness, version and card (or the reason it is missing)."""
        if self._model is not None:
            return {"name": self.name, "ready": True, **self.card}
        return {"name": self.name, "ready": False, "reason": self._reason}


def import_or_unavailable(model: str, module: str, names: tuple[str, ...], issue: str) -> list[Any]:
    """Import ``names`` from ``module`` or raise :class:`ModelUnavailable` naming the issue."""
    import importlib

    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        raise ModelUnavailable(model, f"{module} is not available in this version ({issue}): "
                               f"{exc}") from exc
    missing = [n for n in names if not hasattr(loaded, n)]
    if missing:
        raise ModelUnavailable(model, f"{module} has no {', '.join(missing)} yet ({issue})")
    return [getattr(loaded, n) for n in names]
