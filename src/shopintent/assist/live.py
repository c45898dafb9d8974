"""The assistant inside the running service: one desk per service, answering ``POST /v1/assist``.

The service parses the message first (:meth:`shopintent.serve.service.Service.parse`
with the session's id), so its intent becomes the session's latest text intent, which
the decision engine reads; the desk then answers it with the caller's own orders (read
on the store's thread through the service's gateway), the session's live risk verdict,
the conversation so far and the shop's Q&A index, asks the engine for a decision
under its caps, and counts what the dashboard shows.

"Now" for a cancel or return window is the session's latest event time: live
traffic makes that the wall clock, and a replayed log (the tests' real 2017 Taobao
sessions) is judged at its own time.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopintent.assist.assistant import Assistant, OrderReader, QuestionAnswerer, Reply
from shopintent.assist.dialogue import Dialogues, MemoryDialogues, RedisDialogues
from shopintent.assist.phrasebook import Phrasebook, TemplateError
from shopintent.assist.store_lookup import lookup_order
from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings

log = get_logger(__name__)
#: How long the desk waits for an order lookup on the store's thread.
LOOKUP_TIMEOUT_S = 5.0
#: How often a missing Q&A index is looked for again.
INDEX_RETRY_S = 30.0


def index_folder(settings: Settings) -> Path:
    """Where the service's Q&A index is: ``assist_index_dir``, else ``<state_dir>/assist/index``."""
    return Path(settings.assist_index_dir or Path(settings.state_dir) / "assist" / "index")


class AssistStats:
    """Since start: messages, answered, hand-overs by reason, and the latest conversations."""

    def __init__(self, live_window_s: float = 1800.0, keep: int = 500) -> None:
        self.live_window_s = live_window_s
        self.keep = keep
        self.messages = 0
        self.answered = 0
        self.reasons: Counter[str] = Counter()
        self.flows: Counter[str] = Counter()
        self._conversations: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._escalations: deque[dict[str, Any]] = deque(maxlen=10)
        self._lock = threading.Lock()

    def record(self, session_id: str, reply: dict[str, Any], at: float | None = None) -> None:
        """Count one answered message (``reply``: :meth:`Reply.as_dict`)."""
        at = time.time() if at is None else at
        with self._lock:
            self.messages += 1
            if reply["escalate"]:
                self.reasons[str(reply["reason"])] += 1
                self._escalations.append({"session_id": session_id, "reason": reply["reason"],
                                          "intent": reply["intent"], "at": at})
            elif reply["flow"] or any(s.startswith("qa:") for s in reply["sources"]):
                self.answered += 1
            if reply["flow"]:
                self.flows[str(reply["flow"])] += 1
            self._conversations[session_id] = {
                "session_id": session_id, "turns": reply["turn"], "intent": reply["intent"],
                "flow": reply["flow"], "escalated": reply["escalate"], "reason": reply["reason"],
                "at": at}
            self._conversations.move_to_end(session_id)
            while len(self._conversations) > self.keep:
                self._conversations.popitem(last=False)

    def snapshot(self, now: float | None = None, limit: int = 10) -> dict[str, Any]:
        """What the dashboard's assistant card draws (no text, session ids as the service issued them)."""
        now = time.time() if now is None else now
        with self._lock:
            live = [c for c in self._conversations.values() if now - c["at"] <= self.live_window_s]
            escalated = sum(self.reasons.values())
            return {
                "messages": self.messages, "answered": self.answered, "escalated": escalated,
                "answer_rate": round(self.answered / self.messages, 4) if self.messages else None,
                "escalation_rate": round(escalated / self.messages, 4) if self.messages else None,
                "reasons": dict(self.reasons.most_common()), "flows": dict(self.flows.most_common()),
                "live_conversations": len(live),
                "conversations": [dict(c) for c in reversed(live[-limit:])],
                "recent_escalations": [dict(e) for e in reversed(self._escalations)],
            }


class AssistDesk:
    """The service's assistant: template file, conversation memory, Q&A index and counts."""

    def __init__(self, settings: Settings, pseudonymizer: Pseudonymizer, state: str = "memory",
                 redis_url: str | None = None, prefix: str = "shopintent:") -> None:
        self.settings = settings
        self.dialogues: Dialogues = (RedisDialogues(redis_url, prefix=prefix)
                                     if state == "redis" and redis_url else MemoryDialogues())
        self.stats = AssistStats()
        # A broken template file stops the assistant (503 with the reason), not the service.
        self.unavailable: str | None = None
        try:
            book = Phrasebook.load(settings.assist_templates)
        except TemplateError as exc:
            self.unavailable = str(exc)
            log.error("assist templates not loaded: POST /v1/assist answers 503", detail=str(exc)[:500])
            book = None
        self.book = book
        self.assistant = Assistant(book, pseudonymizer) if book is not None else None
        self._index_checked = 0.0
        self._index_lock = threading.Lock()

    def qa(self) -> QuestionAnswerer | None:
        """The Q&A index, loaded on first need (looked for again every 30 s while missing)."""
        if self.assistant is None:
            return None
        if self.assistant.qa is not None or time.monotonic() - self._index_checked < INDEX_RETRY_S:
            return self.assistant.qa
        with self._index_lock:
            if self.assistant.qa is None and time.monotonic() - self._index_checked >= INDEX_RETRY_S:
                self._index_checked = time.monotonic()
                folder = index_folder(self.settings)
                if folder.is_dir():
                    try:
                        from shopintent.assist.retrieval import QAIndex

                        self.assistant.qa = QAIndex.load(folder, settings=self.settings)
                        log.info("assist Q&A index loaded", kind=getattr(self.assistant.qa, "kind", None))
                    except Exception as exc:  # a broken index must not stop the flows answering
                        log.warning("assist Q&A index not loaded", error=type(exc).__name__,
                                    detail=str(exc)[:200])
        return self.assistant.qa

    def orders_for(self, service: Any, user_id: str) -> OrderReader | None:
        """The caller's order reader over the service's store (``None`` in a worker without one)."""
        gateway = service.gateway
        if gateway.store_path is None or not gateway.store_alive:
            return None

        def read(key: str | None) -> Any:
            call = functools.partial(lookup_order, user_id=user_id, key=key)
            return gateway.call(call).result(timeout=LOOKUP_TIMEOUT_S)

        return read

    async def reply(self, service: Any, state: Any, text: str, parsed: dict[str, Any],
                    product_id: str | None) -> dict[str, Any]:
        """Answer one message of a live session (``state``) whose text ``service`` has parsed."""
        if self.assistant is None:
            from shopintent.serve.adapters.base import ModelUnavailable

            raise ModelUnavailable("assist", f"the answer template file is not usable: {self.unavailable}")
        verdict = service.risk.verdict_for(state.session_id) if service.models["risk"].ready else None
        risk_action = str(verdict.get("action")) if verdict else None
        now = datetime.fromtimestamp(state.last or time.time(), UTC)
        reply = await asyncio.to_thread(
            self._answer, text, parsed, state.session_id, orders=self.orders_for(service, state.user_id),
            now=now, product_id=product_id, risk_action=risk_action)
        body = reply.as_dict()
        self.stats.record(state.session_id, body)
        body["decision"] = await asyncio.to_thread(self._decide, service, state.session_id)
        return body

    def _answer(self, text: str, parsed: dict[str, Any], session_id: str, **context: Any) -> Reply:
        """On a worker thread: the Q&A index (loaded on first need), the conversation so far, the
        reply, and the conversation kept; none of it blocks the event loop."""
        assert self.assistant is not None
        self.qa()
        reply = self.assistant.reply(text, parsed, session_id=session_id,
                                     turn=self.dialogues.get(session_id), **context)
        self.dialogues.put(session_id, reply.turn)
        return reply

    @staticmethod
    def _decide(service: Any, session_id: str) -> dict[str, Any] | None:
        """The engine's decision now that the session's intent changed (``None`` without its models)."""
        if not (service.models["intervene"].ready and service.models["behaviour"].ready):
            return None
        from shopintent.serve.adapters.base import ModelUnavailable

        try:
            made = service.decide_for(session_id)
        except ModelUnavailable:
            return None
        return {"decision_id": made.get("decision_id"), "action": made.get("action"),
                "blocked": made.get("blocked")}

    def close(self) -> None:
        """Release the conversation memory's connection."""
        self.dialogues.close()
