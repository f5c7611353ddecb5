"""Prometheus metrics (SPEC §8) on a dedicated `CollectorRegistry` per `Metrics` object: no
module-level metrics, so two servers in one process (tests) never collide.

Counters carry the original's names and are incremented where the event happens; gauges are
computed from the store at scrape time (`set_gauges`), so every replica reports the database's
truth rather than what it happened to see. Labels are bounded: statuses, states, actor kinds,
handler names — never ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

# Seconds; from a fast local pull to a long queue wait / a long-running stage.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    """Every metric of one process, registered on `self.registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry

        def counter(name: str, doc: str) -> Any:
            return Counter(name, doc, registry=r)

        self.ext_pipeline_created_total = counter(
            "ext_pipeline_created_total", "Pipelines created through the APIs")
        self.ext_stage_jobs_pulled_total = counter(
            "ext_stage_jobs_pulled_total", "Stage jobs delivered to workers by HTTP pulls")
        self.ext_stage_jobs_acked_total = counter(
            "ext_stage_jobs_acked_total", "Job acks applied (success or failure results)")
        self.ext_stage_jobs_nacked_total = counter(
            "ext_stage_jobs_nacked_total", "Jobs handed back by workers (requeue)")
        self.stage_published_total = counter(
            "stage_published_total", "Stage jobs published to handler queues")
        self.stage_result_processed_total = counter(
            "stage_result_processed_total", "Stage results applied")
        self.stage_result_failed_total = counter(
            "stage_result_failed_total", "Stage results that reported a failure")
        self.stage_status_updated_total = counter(
            "stage_status_updated_total", "Stage status changes written")
        self.pending_marked_failed_total = counter(
            "pending_marked_failed_total", "Stages failed by the pending watchdog")
        # Alerts by event kind (a fixed set, `integrations.ALERT_EVENTS`).
        self.alerts_sent_total = Counter(
            "alerts_sent_total", "Alerts the receiver accepted (2xx)", ["event"], registry=r)
        self.alerts_failed_total = Counter(
            "alerts_failed_total", "Alerts given up on after their delivery attempts",
            ["event"], registry=r)
        self.alerts_dropped_total = Counter(
            "alerts_dropped_total", "Alerts dropped because the alerter was full", registry=r)
        self.alerts_deduplicated_total = Counter(
            "alerts_deduplicated_total", "Alerts suppressed as repeats within the window",
            ["event"], registry=r)

        # Control-plane spans exported over OTLP (`pipelogiq.actors.tracer`).
        self.trace_spans_exported_total = Counter(
            "trace_spans_exported_total", "Spans the OTLP collector accepted", registry=r)
        self.trace_spans_failed_total = Counter(
            "trace_spans_failed_total", "Spans given up on after their export attempts",
            registry=r)
        self.trace_pipelines_dropped_total = Counter(
            "trace_pipelines_dropped_total",
            "Finished pipelines whose spans were dropped because the tracer was behind",
            registry=r)

        self.dispatch_latency_seconds = Histogram(
            "dispatch_latency_seconds", "From a stage becoming ready to its delivery",
            buckets=LATENCY_BUCKETS, registry=r)
        self.stage_duration_seconds = Histogram(
            "stage_duration_seconds", "Running time of one stage attempt, by handler",
            ["handler"], buckets=DURATION_BUCKETS, registry=r)

        self.stages_in_flight = Gauge(
            "stages_in_flight", "Stages Pending or Running (from the store)", registry=r)
        self.workers = Gauge(
            "workers", "Workers by effective state (from the store)", ["state"], registry=r)
        self.pipelines = Gauge(
            "pipelines", "Pipelines by status (from the store)", ["status"], registry=r)
        self.live_actors = Gauge(
            "live_actors", "Actors alive in this process, by kind", ["kind"], registry=r)
        self.queue_depth = Gauge(
            "queue_depth", "Stages Pending (waiting for a worker), by handler (from the store)",
            ["handler"], registry=r)
        self.supervisor_restarts_total = Counter(
            "supervisor_restarts_total", "Actors restarted by their supervisor after a crash",
            ["kind"], registry=r)
        self._handlers_seen: set[str] = set()

    def set_gauges(self, snapshot: Mapping[str, Any], actors: Mapping[str, int]) -> None:
        """Scrape-time values: `snapshot` is the store's `metrics_gauges()`, `actors` the
        engine's `stats()`. Every known label is set, zeros included, so a state that
        empties reads 0 rather than its last non-zero value."""
        self.stages_in_flight.set(snapshot["inFlightStages"])
        for state, n in snapshot["workersByState"].items():
            self.workers.labels(state=state).set(n)
        for status, n in snapshot["pipelinesByStatus"].items():
            self.pipelines.labels(status=status).set(n)
        for kind, n in actors.items():
            self.live_actors.labels(kind=kind).set(n)
        depths = snapshot.get("queueDepthByHandler", {})
        for handler in self._handlers_seen - depths.keys():  # an emptied queue reads 0
            self.queue_depth.labels(handler=handler).set(0)
        for handler, n in depths.items():
            self.queue_depth.labels(handler=handler).set(n)
        self._handlers_seen |= depths.keys()

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition the scraper asked for (its Accept header) and its content type."""
        encoder, content_type = choose_encoder(accept)
        return bytes(encoder(self.registry)), str(content_type)


def metrics_of(services: Any) -> Metrics:
    """The process's `Metrics` (built once by the composition root)."""
    metrics: Metrics = services.engine.metrics
    return metrics
