"""Live session state: in-process by default, Redis when several workers must share it."""

from shopintent.serve.state.base import SessionState, SessionStateStore, Transition, live_events
from shopintent.serve.state.memory import MemorySessionState

__all__ = ["MemorySessionState", "SessionState", "SessionStateStore", "Transition", "live_events"]
