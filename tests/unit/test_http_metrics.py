"""HttpMetrics keeps one count and one latency series per request kind,
however often it binds its label children."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.metrics import HttpMetrics


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, ...], float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in registry.collect() for s in family.samples if s.name == name}


def test_each_method_route_and_status_is_counted_apart() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry, "issuance")
    for _ in range(3):
        metrics.observe("POST", "/v1/credentials", 201, 0.002)
    metrics.observe("POST", "/v1/credentials", 422, 0.001)
    metrics.observe("GET", "/v1/credentials", 201, 0.001)
    metrics.observe("POST", "/v1/credentials/batch", 201, 0.3)

    counts = _samples(registry, "http_requests_total")
    def key(method: str, route: str, status: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"service": "issuance", "method": method, "route": route, "status": status}.items()))
    assert counts == {key("POST", "/v1/credentials", "201"): 3.0, key("POST", "/v1/credentials", "422"): 1.0,
                      key("GET", "/v1/credentials", "201"): 1.0, key("POST", "/v1/credentials/batch", "201"): 1.0}


def test_latency_is_kept_per_method_and_route_across_statuses() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry, "issuance")
    metrics.observe("POST", "/v1/credentials", 201, 0.002)
    metrics.observe("POST", "/v1/credentials", 422, 0.004)
    metrics.observe("POST", "/v1/credentials/batch", 201, 0.5)

    sums = {dict(k)["route"]: v for k, v in _samples(registry, "http_request_duration_seconds_sum").items()}
    assert sums == {"/v1/credentials": 0.006, "/v1/credentials/batch": 0.5}
    counts = {dict(k)["route"]: v for k, v in _samples(registry, "http_request_duration_seconds_count").items()}
    assert counts == {"/v1/credentials": 2.0, "/v1/credentials/batch": 1.0}
