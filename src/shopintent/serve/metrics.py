"""Prometheus metrics of one service instance, on its own registry, with bounded labels.

A registry per app (not the global default) keeps two services in one
process — as in the tests — from mixing their counts.

Every label value comes from a closed set, so no client can grow the number
of time series (each costs memory here and in Prometheus): request latency is
labelled with the route *template* (``/v1/sessions/{session_id}``; a path no
route matches is ``unmatched``), the method (unknown ones ``other``) and the
status *class* (``2xx``); actions, outcome kinds, languages and the other
labels map a value outside their set to ``other``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopintent.intervene.actions import DEFAULT_ACTIONS

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
                    0.25, 0.5, 1.0, 2.5, 5.0)

#: The value a label takes when the real one is outside its closed set.
OTHER = "other"
#: The label of a request no route matched (a scan of random paths stays one series).
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = frozenset({"1xx", "2xx", "3xx", "4xx", "5xx"})
#: What ``text.language.detect_language`` answers.
LANGUAGES = frozenset({"en", "zh", "mixed", "und", "unknown"})
ACTIONS = frozenset(a.name for a in DEFAULT_ACTIONS)
#: Outcome kinds counted by name; a client may send any ``[a-z][a-z0-9_]*`` kind.
OUTCOME_KINDS = frozenset({"purchase", "click", "redemption", "add_to_cart", "chat", "return"})
EVENT_OUTCOMES = frozenset({"stored", "duplicate", "rejected"})
SOURCES = frozenset({"http", "stream"})
STREAM_BACKENDS = frozenset({"file", "redis", "kafka", "memory"})
MODELS = frozenset({"text", "behaviour", "recommend", "intervene", "risk"})
RATE_BUCKETS = frozenset({"read", "write", "admin", "anonymous"})


def status_class(status: int) -> str:
    """``"2xx"`` for 200…299 and so on; anything outside 100…599 is ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


class ClosedLabels:
    """A labelled metric whose label values are clamped to closed sets (else ``other``).

    It wraps the ``prometheus_client`` metric, so callers keep writing
    ``metric.labels(value).inc()``. ``None`` instead of a set marks a label
    whose values are bounded where they are made (the route template).
    """

    def __init__(self, metric: Any, allowed: Mapping[str, Iterable[str] | None]) -> None:
        self.metric = metric
        self.allowed = {name: None if values is None else frozenset(values)
                        for name, values in allowed.items()}
        self._names = tuple(self.allowed)
        # Children of value tuples that were all inside their sets: bounded by the sets' sizes,
        # and a hit skips the clamping and prometheus_client's own label lookup (per request).
        self._children: dict[tuple[Any, ...], Any] = {}

    def labels(self, *values: Any, **named: Any) -> Any:
        """The child series for these values, each outside its set replaced by ``other``."""
        if named:
            values = tuple(named[n] for n in self._names)
        child = self._children.get(values)
        if child is not None:
            return child
        if len(values) != len(self._names):
            raise ValueError(f"{len(values)} label values for labels {', '.join(self._names)}")
        clamped = []
        inside = True
        for name, value in zip(self._names, values, strict=True):
            allowed, text = self.allowed[name], str(value)
            if allowed is None or text in allowed:
                clamped.append(text)
            else:
                clamped.append(OTHER)
                inside = False
        child = self.metric.labels(*clamped)
        if inside and all(type(v) in (str, int, bool) for v in values):
            self._children[values] = child
        return child

    def __getattr__(self, name: str) -> Any:
        return getattr(self.metric, name)


class ServiceMetrics:
    """The counters, gauges and histograms ``/metrics`` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_latency = ClosedLabels(Histogram(
            "shopintent_http_request_duration_seconds",
            "HTTP request latency by method, route template and status class.",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=r),
            # A route label is the template of a route object of the app (or UNMATCHED): closed
            # by construction, never the request's path.
            {"method": METHODS, "route": None, "status": STATUS_CLASSES})
        self.events = ClosedLabels(Counter(
            "shopintent_events_total", "Events received, by outcome (stored, duplicate, rejected).",
            ["outcome", "source"], registry=r), {"outcome": EVENT_OUTCOMES, "source": SOURCES})
        self.ingest_latency = Histogram(
            "shopintent_ingest_batch_seconds", "Time to validate, protect and persist one write group.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.events_per_second = Gauge(
            "shopintent_events_per_second", "Events stored per second over the last 10 s.", registry=r)
        self.decisions = ClosedLabels(Counter(
            "shopintent_decisions_total", "Interventions decided, by action.", ["action"], registry=r),
            {"action": ACTIONS})
        self.outcomes = ClosedLabels(Counter(
            "shopintent_outcomes_total", "Outcomes joined to decisions, by kind.", ["kind"], registry=r),
            {"kind": OUTCOME_KINDS})
        self.intents = ClosedLabels(Counter(
            "shopintent_intent_requests_total", "Intent predictions, by language.", ["language"],
            registry=r), {"language": LANGUAGES})
        self.live_sessions = Gauge(
            "shopintent_live_sessions", "Sessions active within the inactivity gap.", registry=r)
        self.stream_messages = ClosedLabels(Counter(
            "shopintent_stream_messages_total", "Stream messages consumed and acknowledged.",
            ["backend"], registry=r), {"backend": STREAM_BACKENDS})
        self.log_pending = Gauge(
            "shopintent_log_pending_messages",
            "Event log messages the store sink has not stored yet (committed, not in DuckDB).",
            registry=r)
        self.model_info = Info(
            "shopintent_model", "Loaded model versions (empty when a model is not available).",
            registry=r)
        self.model_ready = ClosedLabels(Gauge(
            "shopintent_model_ready", "1 when a model is loaded, 0 when not.", ["model"], registry=r),
            {"model": MODELS})
        self.rate_limited = ClosedLabels(Counter(
            "shopintent_rate_limited_total", "Requests refused with 429, by rate-limit bucket.",
            ["bucket"], registry=r), {"bucket": RATE_BUCKETS})



class LatencyMiddleware:
    """Time every HTTP request and count it under its route template and status class.

    The histogram child of each (method, route, status class) is looked up once and
    kept: every part of that key comes from a closed set, so the cache is bounded,
    and a request then costs one ``observe`` instead of a label lookup.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, str], Any] = {}

    def observe(self, method: str, template: str, status: int, seconds: float) -> None:
        """Record one request's latency (``method`` outside :data:`METHODS` counts as ``other``)."""
        key = (method if method in METHODS else OTHER, template, status_class(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metrics.request_latency.labels(*key)
        child.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            self.observe(scope.get("method", ""), getattr(route, "path", None) or UNMATCHED, status,
                         time.perf_counter() - start)
