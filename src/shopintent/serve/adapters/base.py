"""A model the service loads on its loader thread, with a reason when it is not available.

The service never trains: a slot either loads files that ``shopintent models
prepare`` wrote, or says why it cannot (:meth:`ModelSlot.unavailable`). A slot
given a ``watch`` also notices when those files change (a better model
promoted, a component prepared in the background) and swaps the new model in
while the old one keeps answering.
"""

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
    """Holds one model: loads it on the loader thread, remembers why it could not, retries later.

    ``watch`` (optional) returns a fingerprint of the files the model is
    loaded from (e.g. their manifests' modification times); when it changes,
    :meth:`reload_if_changed` loads the new files and swaps them in.
    ``requires`` (optional) says why the model cannot load yet (its files are
    not prepared) or ``None``; it is asked before every load, so a loader that
    would train a missing model is never called.
    """

    #: How soon a slot whose files are not prepared looks again (a cheap check).
    NOT_PREPARED_RECHECK_S = 5.0

    def __init__(self, name: str, loader: Callable[[], tuple[T, dict[str, Any]]],
                 retry_after_s: float = 30.0, watch: Callable[[], object] | None = None,
                 requires: Callable[[], str | None] | None = None) -> None:
        self.name = name
        self.requires = requires
        self._loader = loader
        self.retry_after_s = retry_after_s
        self._retry_after_s = retry_after_s
        self._watch = watch
        self._fingerprint: object = None
        self._model: T | None = None
        self.card: dict[str, Any] = {}
        self._reason = "not loaded yet"
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The model; raises :class:`ModelUnavailable` with the reason while it is not loaded.

        Never loads: loading happens on the service's loader thread, so no
        request waits for it (and nothing in the service trains a model).
        """
        model = self._model
        if model is None:
            raise ModelUnavailable(self.name, self._reason)
        return model

    def due(self) -> bool:
        """Whether a load should be tried now (never tried, or failed long enough ago)."""
        return self._model is None and (
            self._failed_at is None or time.monotonic() - self._failed_at >= self._retry_after_s)

    def unavailable(self, reason: str, retry_after_s: float | None = None) -> None:
        """Record why the model cannot load now (e.g. its files are not prepared); retried later.

        Logged once per distinct reason, so a service waiting for
        ``shopintent models prepare`` says so without repeating it every check.
        """
        if self._model is not None:
            return
        if reason != self._reason:
            log.warning("model not available", model=self.name, reason=reason)
        self._reason, self._failed_at = reason, time.monotonic()
        self._retry_after_s = self.retry_after_s if retry_after_s is None else retry_after_s

    def load(self) -> bool:
        """Try to load now (blocking); True when the model is ready."""
        missing = self.requires() if self.requires is not None else None
        if missing is not None:
            self.unavailable(missing, retry_after_s=self.NOT_PREPARED_RECHECK_S)
            return False
        with self._lock:
            if self._model is not None:
                return True
            self._reason = "loading"
            self._retry_after_s = self.retry_after_s
            fingerprint = self._watch() if self._watch is not None else None
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
            self._model, self.card, self._fingerprint = model, card, fingerprint
            log.info("model loaded", model=self.name, version=card.get("version"))
            return True

    def changed(self) -> bool:
        """Whether the watched files differ from those the loaded model came from."""
        return self._model is not None and self._watch is not None and \
            self._watch() != self._fingerprint

    def reload_if_changed(self) -> bool:
        """Load the watched files again when they changed and swap the result in; True if swapped.

        The old model answers until the new one is loaded. A failed reload
        (files caught mid-copy, a broken save) keeps the old model and is
        tried again only when the files change again.
        """
        if not self.changed():
            return False
        with self._lock:
            assert self._watch is not None
            fingerprint = self._watch()
            try:
                model, card = self._loader()
            except Exception as exc:  # noqa: BLE001 - keep serving the model that works
                self._fingerprint = fingerprint
                log.warning("model reload failed; the loaded model stays", model=self.name,
                            reason=f"{type(exc).__name__}: {str(exc)[:300]}")
                return False
            previous = self.card.get("version")
            self._model, self.card, self._fingerprint = model, card, fingerprint
        log.info("model reloaded", model=self.name, version=card.get("version"), previous=previous)
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
