"""The cyclic garbage collector held off while a service process starts, then frozen out of the way.

Why: a start allocates ~200,000 long-lived objects (the libraries it imports, the models it
loads) and almost no cyclic garbage, yet CPython's collector, tuned for steady state, runs
hundreds of young and several full collections over them on the way to ready (the
``collector`` field of ``benchmarks/results/serve_startup.json``'s runs counts them).
The serve entry points call :func:`hold_collection` before importing the app; the service
calls :func:`release_collection` once its first pass of model loads is done (whether every
model loaded or not, so a service waiting for a missing model collects as usual) or when it
starts without models. Release collects once and freezes the survivors, which is what the
service already did after its models loaded: later full collections skip them.

Holding is per process and only ever by an entry point: importing this module, the app or
the service changes nothing, so tests and libraries keep the collector as they found it.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_held = False


def hold_collection() -> None:
    """Disable the cyclic collector until :func:`release_collection` (a no-op if already off)."""
    global _held
    with _lock:
        if gc.isenabled():
            gc.disable()
            _held = True


def release_collection() -> bool:
    """If :func:`hold_collection` disabled it: collect once, freeze the survivors, re-enable. True then."""
    global _held
    with _lock:
        if not _held:
            return False
        _held = False
        gc.collect()
        gc.freeze()
        gc.enable()
        return True


def collection_held() -> bool:
    """Whether a start is holding the collector off now."""
    return _held
