"""Live session state: in-process by default, Redis when several workers must share it."""

from shopintent.serve.state.base import LiveSessionState, LiveSessionStore, Transition, live_events
from shopintent.serve.state.memory import MemorySessionStore

__all__ = ["LiveSessionState", "LiveSessionStore", "MemorySessionStore", "Transition", "live_events"]
