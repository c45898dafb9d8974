"""Prometheus metrics of one service instance, on its own registry.

A registry per app (not the global default) keeps two services in one
process — as in the tests — from mixing their counts. Request latency is
recorded by a pure ASGI middleware labelled with the route *template*
(``/v1/sessions/{session_id}``), so label cardinality stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
                    0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """The counters, gauges and histograms ``/metrics`` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_latency = Histogram(
            "shopintent_http_request_duration_seconds", "HTTP request latency by route.",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=r)
        self.events = Counter(
            "shopintent_events_total", "Events received, by outcome (stored, duplicate, rejected).",
            ["outcome", "source"], registry=r)
        self.ingest_latency = Histogram(
            "shopintent_ingest_batch_seconds", "Time to validate, protect and persist one write group.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.events_per_second = Gauge(
            "shopintent_events_per_second", "Events stored per second over the last 10 s.", registry=r)
        self.decisions = Counter(
            "shopintent_decisions_total", "Interventions decided, by action.", ["action"], registry=r)
        self.outcomes = Counter(
            "shopintent_outcomes_total", "Outcomes joined to decisions, by kind.", ["kind"], registry=r)
        self.intents = Counter(
            "shopintent_intent_requests_total", "Intent predictions, by language.", ["language"],
            registry=r)
        self.live_sessions = Gauge(
            "shopintent_live_sessions", "Sessions active within the inactivity gap.", registry=r)
        self.stream_messages = Counter(
            "shopintent_stream_messages_total", "Stream messages consumed and acknowledged.",
            ["backend"], registry=r)
        self.model_info = Info(
            "shopintent_model", "Loaded model versions (empty when a model is not available).",
            registry=r)
        self.model_ready = Gauge(
            "shopintent_model_ready", "1 when a model is loaded, 0 when not.", ["model"], registry=r)


class LatencyMiddleware:
    """Time every HTTP request and count it under its route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

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
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_latency.labels(
                scope.get("method", ""), template, str(status)
            ).observe(time.perf_counter() - start)
