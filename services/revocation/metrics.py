"""The revocation service's own metrics, beside the platform's HTTP and
projection-lag metrics (one registry per application)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RevocationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.status_changes = Counter(
            "revocation_status_changes_total", "Status change events appended",
            ["action", "source"], registry=registry,
        )
        self.rejections = Counter(
            "revocation_rejected_actions_total", "Requested actions refused, by reason",
            ["action", "reason"], registry=registry,
        )
        self.publications = Counter(
            "status_list_publications_total", "Status list credentials signed and stored",
            ["purpose"], registry=registry,
        )
        self.publish_seconds = Histogram(
            "status_list_publish_seconds", "Time to build, sign and store one status list credential",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0), registry=registry,
        )
        self.lists_due = Gauge(
            "status_lists_due", "Status lists waiting for regeneration at the last publisher pass",
            registry=registry,
        )
