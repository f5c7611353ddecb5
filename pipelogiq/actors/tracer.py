"""`Tracer`: exports control-plane spans (SPEC §8; built by `pipelogiq.observability.tracing`)
to an OTLP/HTTP collector — OTEL_EXPORTER_OTLP_ENDPOINT, else the OpenTelemetry integration's
endpoint — so a worker's spans and the control plane's appear in one trace.

The engine calls `pipeline_finished(id)` once per finished pipeline (the pipeline actor's
Finish branch) and never waits: the id goes into a bounded inbox with `send_nowait`; a full
inbox drops it and counts it (`trace_pipelines_dropped_total`). The tracer then, one batch at a
time: gathers up to `BATCH_PIPELINES` ids (waiting at most `LINGER` after the first), reads
the export target (cached for `CONFIG_TTL`) and drops the batch when there is none, reads the
pipelines from the store in one round trip, and POSTs their spans as one OTLP JSON request.
A failed export (no answer within `ATTEMPT_TIMEOUT`, 408, 429, 5xx) is retried with capped
exponential backoff and jitter up to `MAX_ATTEMPTS`, then counted (`trace_spans_failed_total`)
and dropped; meanwhile new ids wait in the inbox. Spans of a batch still being exported at
shutdown are lost with it (tracing is best effort; the store keeps the facts).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Protocol

import httpx
import trio

from pipelogiq import alerts
from pipelogiq.actors.alerter import Delivery, HttpSender, Sender
from pipelogiq.config import Settings
from pipelogiq.integrations import IntegrationState
from pipelogiq.observability.metrics import Metrics
from pipelogiq.observability.tracing import (
    PipelineTrace,
    TraceEmitter,
    TraceTarget,
    encode,
    pipeline_spans,
    target_of,
)

log = logging.getLogger("pipelogiq.tracing")

INBOX_SIZE = 10_000  # finished pipelines waiting for export; beyond this they are dropped
BATCH_PIPELINES = 100  # pipelines per export request
LINGER = 0.5  # seconds a batch waits for more pipelines after its first
CONFIG_TTL = 5.0
ATTEMPT_TIMEOUT = 10.0
MAX_ATTEMPTS = 5
RETRY_BASE = 1.0
RETRY_CAP = 30.0


class TraceStore(Protocol):
    """What the tracer reads (a subset of `Store`)."""

    async def integration_states(self) -> dict[str, IntegrationState]: ...

    async def pipeline_traces(self, pipeline_ids: Sequence[int]) -> list[PipelineTrace]: ...


class Tracer(TraceEmitter):
    def __init__(self, store: TraceStore, settings: Settings, metrics: Metrics, *,
                 sender: Sender | None = None, rand: Callable[[], float] = random.random
                 ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._sender = sender
        self._rand = rand
        self._send, self._inbox = trio.open_memory_channel[int](INBOX_SIZE)
        self._target: tuple[float, TraceTarget | None] | None = None  # (read at, target)
        self._dropping = False

    # -- the emitter (never waits) ---------------------------------------------------------
    def pipeline_finished(self, pipeline_id: int) -> None:
        try:
            self._send.send_nowait(pipeline_id)
            self._dropping = False
        except trio.WouldBlock:
            self._metrics.trace_pipelines_dropped_total.inc()
            if not self._dropping:  # once per streak
                log.warning("tracing is behind: spans of finished pipelines are dropped")
            self._dropping = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the tracer has stopped: the process is shutting down

    def config_changed(self) -> None:
        self._target = None

    # -- the actor -------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[Tracer] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Owns span export: the inbox, the HTTP client, one export at a time. `started()`
        reports the tracer. Runs until cancelled (an export in flight is cancelled with it)."""
        async with AsyncExitStack() as stack:
            if self._sender is None:
                client = await stack.enter_async_context(
                    httpx.AsyncClient(timeout=None, follow_redirects=False))
                self._sender = HttpSender(client)
            async with self._inbox:
                task_status.started(self)
                while batch := await self._gather():
                    await self._export_batch(batch)

    async def _gather(self) -> list[int]:
        """The next batch of pipeline ids ([] once the inbox is closed and empty)."""
        try:
            batch = [await self._inbox.receive()]
        except trio.EndOfChannel:
            return []
        with trio.move_on_after(LINGER):
            while len(batch) < BATCH_PIPELINES:
                try:
                    batch.append(await self._inbox.receive())
                except trio.EndOfChannel:
                    break
        return batch

    async def target(self) -> TraceTarget | None:
        """Where spans go, read again when older than CONFIG_TTL or changed here."""
        now = trio.current_time()
        if self._target is not None and now - self._target[0] < CONFIG_TTL:
            return self._target[1]
        state = None
        if not self._settings.otel_exporter_otlp_endpoint:  # the environment wins
            try:
                state = (await self._store.integration_states()).get("opentelemetry")
            except Exception:  # a store hiccup: keep the last target
                log.exception("tracing: could not read the OpenTelemetry integration")
                return None if self._target is None else self._target[1]
        target = target_of(self._settings, state)
        self._target = (now, target)
        return target

    async def _export_batch(self, batch: list[int]) -> None:
        target = await self.target()
        if target is None:
            return
        try:
            traces = await self._store.pipeline_traces(batch)
        except Exception:
            log.exception("tracing: could not read %d finished pipeline(s)", len(batch))
            return
        spans = [span for t in traces for span in pipeline_spans(t)]
        if not spans:
            return
        body = encode(spans, target.service_name)
        headers = {**target.headers, "Content-Type": "application/json",
                   "User-Agent": "pipelogiq-tracing"}
        result, attempt = Delivery(None, "not sent"), 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            result = await self._attempt(target.url, headers, body)
            if result.ok:
                self._metrics.trace_spans_exported_total.inc(len(spans))
                return
            if not alerts.retryable(result.status) or attempt == MAX_ATTEMPTS:
                break
            await trio.sleep(self._delay(attempt, result.retry_after))
        self._metrics.trace_spans_failed_total.inc(len(spans))
        log.warning("tracing: %d span(s) of %d pipeline(s) not exported after %d attempt(s):"
                    " %s", len(spans), len(traces), attempt, result.error)

    async def _attempt(self, url: str, headers: dict[str, str], body: bytes) -> Delivery:
        assert self._sender is not None
        with trio.move_on_after(ATTEMPT_TIMEOUT):
            return await self._sender(url, headers, body)
        return Delivery(None, f"no answer within {ATTEMPT_TIMEOUT:g}s")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = min(RETRY_CAP, RETRY_BASE * 2.0 ** (attempt - 1)) * (0.8 + 0.4 * self._rand())
        return delay if retry_after is None else max(delay, min(RETRY_CAP, retry_after))
