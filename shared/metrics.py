"""Prometheus metrics, one registry per application (no process globals).

Requests are labelled by route *template* (`/v1/credentials/{id}`), never by
raw path: raw paths would create one time series per credential id.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "http_requests_total", "HTTP requests handled",
            ["service", "method", "route", "status"], registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency",
            ["service", "method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        # The children of each (method, route, status) seen, bound once:
        # labels() validates, locks and looks up on every call otherwise,
        # which was a measurable share of a small request's CPU. The keys
        # are those the two metrics themselves keep a child for.
        self._bound: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = (self.requests.labels(self.service, method, route, str(status)),
                                        self.latency.labels(self.service, method, route))
        count, latency = bound
        count.inc()
        latency.observe(seconds)
