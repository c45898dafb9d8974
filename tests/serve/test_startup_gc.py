"""The collector a service start holds off is released: by the loader's first pass, or at once without models."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shopintent.serve import startup
from shopintent.serve.config import ServeConfig
from shopintent.serve.service import Service
from shopintent.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """Leave the collector as the test found it, whatever the test did."""
    was_enabled = gc.isenabled()
    yield
    startup.release_collection()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_hold_disables_the_collector_and_release_collects_freezes_and_enables_it_once(collector: None) -> None:
    gc.enable()
    startup.hold_collection()
    assert not gc.isenabled() and startup.collection_held()
    frozen_before = gc.get_freeze_count()
    assert startup.release_collection() is True
    assert gc.isenabled() and not startup.collection_held()
    assert gc.get_freeze_count() > frozen_before  # the start's survivors left the collector's walk
    assert startup.release_collection() is False  # nothing held: nothing to do


def test_a_collector_someone_else_disabled_is_left_disabled(collector: None) -> None:
    gc.disable()
    startup.hold_collection()
    assert startup.release_collection() is False
    assert not gc.isenabled()


def test_a_service_started_without_models_releases_the_held_collector(collector: None, settings: Settings,
                                                                      tmp_path: object) -> None:
    gc.enable()
    startup.hold_collection()
    service = Service(settings, ServeConfig(store_path=":memory:"))
    service.start(load_models=False)
    try:
        assert gc.isenabled() and not startup.collection_held()
    finally:
        service.stop()


def test_a_service_with_models_releases_it_after_the_loaders_first_pass(collector: None,
                                                                       settings: Settings) -> None:
    # the state folder holds no prepared model: the first pass loads nothing, and still releases
    gc.enable()
    startup.hold_collection()
    service = Service(settings, ServeConfig(store_path=":memory:"))
    service.start(load_models=True)
    try:
        assert service._loader is not None
        for _ in range(600):
            if gc.isenabled():
                break
            service._stop.wait(0.05)
        assert gc.isenabled() and not startup.collection_held()
        assert not service.models["text"].ready  # not prepared: released all the same
    finally:
        service.stop()
