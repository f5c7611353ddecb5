"""`Alerter`: delivers alerts (SPEC §8) to the alerting integration's webhook — a plain JSON
webhook, or Slack / Teams incoming webhooks (plain HTTP too) — signed when a secret is set.

Emitters (the engine, the HTTP routes) call its `AlertEmitter` methods, which never wait: a
message goes into a bounded inbox with `send_nowait`, and when the inbox is full it is dropped
and counted (`alerts_dropped_total`) rather than slowing the engine. The alerter then, one
message at a time:

1. reads the alerting config (cached for `CONFIG_TTL`; saving the config invalidates it at
   once on this process, other replicas see it within the TTL) and skips the message when
   alerting is off or its event is not selected — except `stage.failed` of a stage with
   `notifyOnFailure`, which is sent whenever alerting is on with a URL;
2. skips it when its key was admitted within `alerts.DEDUP_WINDOW` (see `pipelogiq.alerts`);
3. resolves names from the store (pipeline and stage names, worker name and host);
4. hands it to a delivery task of its own. At most `MAX_CONCURRENT` requests are in flight,
   each bounded by `ATTEMPT_TIMEOUT`; a failed attempt (no answer, 408, 429, 5xx) waits with
   capped exponential backoff and jitter *without* holding a request slot, so one slow or
   failing receiver delays nothing else. After `alerts.MAX_ATTEMPTS` it is logged, counted
   (`alerts_failed_total`) and its key forgotten. At most `MAX_OUTSTANDING` alerts are being
   delivered or retried; beyond that new ones are dropped and counted.

Queue backlog is a periodic check (`BACKLOG_CHECK_INTERVAL`, only while `queue.backlog` is
selected): a handler queue with at least `BACKLOG_DEPTH` stages `Pending`, or whose oldest
`Pending` stage has waited half of STAGE_PENDING_TIMEOUT (no worker drains it; at the full
timeout the pending watchdog fails it), raises `queue.backlog`.

De-duplication is per process: with several engine replicas, a backlog is reported by each.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Mapping
from contextlib import AsyncExitStack
from typing import Any, Protocol

import attrs
import httpx
import trio

from pipelogiq import alerts
from pipelogiq.alerts import (
    Alert,
    AlertEmitter,
    AlertMessage,
    Deduper,
    PipelineFinished,
    StageFailed,
    StageStuck,
    WorkerChanged,
)
from pipelogiq.broker.base import queue_name
from pipelogiq.clock import Clock
from pipelogiq.config import Settings
from pipelogiq.integrations import SIGNATURE_HEADER, IntegrationState, alert_payload, signature
from pipelogiq.observability.metrics import Metrics
from pipelogiq.store.base import QueueBacklog

log = logging.getLogger("pipelogiq.alerts")

INBOX_SIZE = 1000  # emitters never wait: a burst beyond this is dropped and counted
MAX_OUTSTANDING = 1000  # alerts being delivered or waiting for a retry
MAX_CONCURRENT = 8  # requests in flight at once
ATTEMPT_TIMEOUT = 10.0  # seconds one request may take
CONFIG_TTL = 5.0
BACKLOG_CHECK_INTERVAL = 60.0
BACKLOG_DEPTH = 500


class AlertStore(Protocol):
    """What the alerter reads (a subset of `Store`)."""

    async def integration_states(self) -> dict[str, IntegrationState]: ...

    async def pipeline_json(self, pipeline_id: int, *,
                            with_logs: bool = False) -> dict[str, Any] | None: ...

    async def worker_app(self, worker_id: str) -> int | None: ...

    async def worker_detail(self, worker_id: str, apps: Collection[int],
                            offline_after: float) -> dict[str, Any]: ...

    async def queue_backlog(self, min_depth: int,
                            pending_before: float) -> list[QueueBacklog]: ...


@attrs.frozen
class Delivery:
    """What one attempt got: a status, or why there was none."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender(Protocol):
    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> Delivery: ...


class HttpSender:
    """POSTs with one shared client; redirects are not followed (a webhook URL is exact)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> Delivery:
        try:
            async with self._client.stream("POST", url, headers=dict(headers),
                                           content=body) as response:
                status = response.status_code
                return Delivery(status, None if 200 <= status < 300 else f"HTTP {status}",
                                _seconds(response.headers.get("retry-after")))
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            # The type only: an exception's text may quote the URL, which can carry a token.
            return Delivery(None, type(exc).__name__)


def _seconds(value: str | None) -> float | None:
    """A Retry-After given in seconds (an HTTP date is ignored: backoff applies)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


@attrs.frozen
class Target:
    """The enabled alerting config."""

    url: str
    channel: str
    secret: str | None
    events: frozenset[str]


def target_of(state: IntegrationState | None) -> Target | None:
    config = (state.config if state else None) or {}
    if not config.get("enabled") or not config.get("webhookUrl"):
        return None
    return Target(config["webhookUrl"], config.get("channel") or "webhook",
                  config.get("secret"), frozenset(config.get("events") or ()))


class Alerter(AlertEmitter):
    def __init__(
        self, store: AlertStore, clock: Clock, settings: Settings, metrics: Metrics, *,
        sender: Sender | None = None, rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._sender = sender
        self._rand = rand
        self._send, self._inbox = trio.open_memory_channel[AlertMessage](INBOX_SIZE)
        self._dedup = Deduper()
        self._target: tuple[float, Target | None] | None = None  # (read at, config)
        self._outstanding = 0
        self._dropping = False

    # -- emitters (never wait) -------------------------------------------------------------
    def emit(self, message: AlertMessage) -> None:
        try:
            self._send.send_nowait(message)
            self._dropping = False
        except trio.WouldBlock:
            self._dropped(message.event, "the alerter's inbox is full")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the alerter has stopped: the process is shutting down

    def config_changed(self) -> None:
        self._target = None

    def _dropped(self, event: str, why: str) -> None:
        self._metrics.alerts_dropped_total.inc()
        if not self._dropping:  # once per streak, not once per alert
            log.warning("alert %s dropped: %s", event, why)
        self._dropping = True

    # -- the actor -----------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[Alerter] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Owns alert delivery: the inbox, de-duplication, the delivery tasks and the backlog
        check. `started()` reports the alerter. Runs until cancelled; deliveries still in
        flight or waiting for a retry are cancelled with it (at shutdown)."""
        async with AsyncExitStack() as stack:
            if self._sender is None:
                client = await stack.enter_async_context(
                    httpx.AsyncClient(timeout=None, follow_redirects=False))
                self._sender = HttpSender(client)
            limiter = trio.CapacityLimiter(MAX_CONCURRENT)
            async with self._inbox, trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_backlog)
                task_status.started(self)
                async for message in self._inbox:
                    alert = await self._admit(message)
                    if alert is not None:
                        self._outstanding += 1
                        nursery.start_soon(self._deliver, alert, limiter)

    async def _admit(self, message: AlertMessage) -> Alert | None:
        """The alert to deliver, or None: alerting off, event not selected, a repeat."""
        target = await self.target()
        if target is None:
            return None
        event, key, now = message.event, message.key, trio.current_time()
        selected = event in target.events
        if not selected and not isinstance(message, StageFailed):
            return None
        if self._dedup.seen(key, now):
            self._metrics.alerts_deduplicated_total.labels(event).inc()
            return None
        alert = message if isinstance(message, Alert) else await self._resolve(message)
        if alert is None or not (selected or alert.forced):
            return None
        if self._outstanding >= MAX_OUTSTANDING:
            self._dropped(event, f"{MAX_OUTSTANDING} alerts are already being delivered")
            return None
        self._dedup.admit(key, now)
        return alert

    async def target(self) -> Target | None:
        """The alerting config, read again when older than CONFIG_TTL or changed here."""
        now = trio.current_time()
        if self._target is not None and now - self._target[0] < CONFIG_TTL:
            return self._target[1]
        try:
            target = target_of((await self._store.integration_states()).get("alerting"))
        except Exception:  # a store hiccup: keep the last config rather than stop alerting
            log.exception("alerts: could not read the alerting config")
            return None if self._target is None else self._target[1]
        self._target = (now, target)
        return target

    async def _deliver(self, alert: Alert, limiter: trio.CapacityLimiter) -> None:
        try:
            result, attempt = Delivery(None, "alerting was switched off"), 0
            for attempt in range(1, alerts.MAX_ATTEMPTS + 1):
                target = await self.target()
                if target is None:
                    return  # switched off meanwhile: nothing to deliver to
                result = await self._attempt(alert, target, limiter)
                if result.ok:
                    self._metrics.alerts_sent_total.labels(alert.event).inc()
                    log.info("alert %s delivered (attempt %d)", alert.key, attempt)
                    return
                if not alerts.retryable(result.status) or attempt == alerts.MAX_ATTEMPTS:
                    break
                await trio.sleep(alerts.retry_delay(attempt, self._rand(), result.retry_after))
            self._metrics.alerts_failed_total.labels(alert.event).inc()
            self._dedup.forget(alert.key)
            log.warning("alert %s not delivered after %d attempt(s): %s", alert.key, attempt,
                        result.error)
        finally:
            self._outstanding -= 1

    async def _attempt(self, alert: Alert, target: Target,
                       limiter: trio.CapacityLimiter) -> Delivery:
        body = alert_payload(target.channel, alert.event, alert.title, alert.text,
                             self._clock.now(), alert.details, alert.key)
        headers = {"Content-Type": "application/json", "User-Agent": "pipelogiq-alerts"}
        if target.secret:
            headers[SIGNATURE_HEADER] = signature(target.secret, body)
        assert self._sender is not None
        async with limiter:
            with trio.move_on_after(ATTEMPT_TIMEOUT):
                return await self._sender(target.url, headers, body)
        return Delivery(None, f"no answer within {ATTEMPT_TIMEOUT:g}s")

    # -- details from the store ----------------------------------------------------------
    async def _resolve(self, message: AlertMessage) -> Alert | None:
        try:
            match message:
                case StageFailed() | StageStuck():
                    return await self._stage_alert(message)
                case PipelineFinished():
                    return await self._pipeline_alert(message)
                case WorkerChanged():
                    return await self._worker_alert(message)
        except Exception:  # an alert without its details is still better than none
            log.exception("alert %s: could not read its details", message.key)
        return None

    async def _stage_alert(self, message: StageFailed | StageStuck) -> Alert | None:
        doc = await self._store.pipeline_json(message.pipeline_id, with_logs=True)
        stage = next((s for s in (doc or {}).get("stages", ())
                      if s["id"] == message.stage_id), None)
        if doc is None or stage is None:
            return None
        name, pipeline = stage["name"], f"{doc['name']} #{doc['id']}"
        details = {"applicationId": doc["applicationId"], "pipelineId": doc["id"],
                   "pipelineName": doc["name"], "traceId": doc.get("traceId"),
                   "stageId": stage["id"], "stageName": name,
                   "handler": stage["stageHandlerName"], "attempt": stage.get("attempt")}
        if isinstance(message, StageStuck):
            waited = f"{self._settings.stage_pending_timeout:g}s"
            return Alert(message.event, message.key, f"Pipeline {doc['name']} is stuck",
                         f"Stage {name} of pipeline {pipeline} waited Pending for {waited}:"
                         f" no worker took it from handler {stage['stageHandlerName']}.",
                         details)
        reason = next((line["message"] for line in reversed(stage.get("logs") or ())
                       if line["message"].startswith("Failed:")), "")
        reason = reason.removeprefix("Failed:").strip()
        forced = bool((stage.get("options") or {}).get("notifyOnFailure"))
        return Alert(message.event, message.key, f"Stage {name} failed",
                     f"Stage {name} of pipeline {pipeline} failed"
                     + (f": {reason}" if reason else "."),
                     {**details, "reason": reason or None}, forced=forced)

    async def _pipeline_alert(self, message: PipelineFinished) -> Alert | None:
        doc = await self._store.pipeline_json(message.pipeline_id)
        if doc is None:
            return None
        failed = [s for s in doc.get("stages", ()) if s["status"] == "Failed"
                  and not (s.get("options") or {}).get("runNextIfFailed")]
        how = "failed" if message.failed else "completed"
        why = f": stage {failed[0]['name']} failed" if message.failed and failed else (
            f": {message.reason}" if message.failed else ".")
        return Alert(message.event, message.key, f"Pipeline {doc['name']} {how}",
                     f"Pipeline {doc['name']} #{doc['id']} {how}{why}",
                     {"applicationId": doc["applicationId"], "pipelineId": doc["id"],
                      "pipelineName": doc["name"], "traceId": doc.get("traceId"),
                      "status": doc["status"], "reason": message.reason})

    async def _worker_alert(self, message: WorkerChanged) -> Alert:
        app = await self._store.worker_app(message.worker_id)
        doc = {} if app is None else await self._store.worker_detail(
            message.worker_id, [app], self._settings.worker_offline_after)
        name = doc.get("name") or message.worker_id
        host = f" on {doc['hostName']}" if doc.get("hostName") else ""
        what = {"started": "started", "stopped": "stopped", "failed": "reports an error",
                "offline": "is offline"}[message.kind]
        text = {"started": f"Worker {name}{host} bootstrapped.",
                "stopped": f"Worker {name}{host} shut down: {message.message}",
                "failed": f"Worker {name}{host} reports state error: {message.message}",
                "offline": f"Worker {name}{host} went offline: {message.message}; the jobs it"
                           " held go back to their queues."}[message.kind]
        return Alert(message.event, message.key, f"Worker {name} {what}", text,
                     {"applicationId": app, "workerId": message.worker_id, "workerName": name,
                      "hostName": doc.get("hostName"), "message": message.message})

    # -- queue backlog -------------------------------------------------------------------
    async def _watch_backlog(self) -> None:
        while True:
            await trio.sleep(BACKLOG_CHECK_INTERVAL)
            target = await self.target()
            if target is None or "queue.backlog" not in target.events:
                continue
            age = self._settings.stage_pending_timeout / 2
            try:
                queues = await self._store.queue_backlog(BACKLOG_DEPTH, self._clock.now() - age)
            except Exception:
                log.exception("alerts: could not read the queue backlog")
                continue
            for q in queues:
                self.emit(self.backlog_alert(q))

    def backlog_alert(self, q: QueueBacklog) -> Alert:
        s = self._settings
        name = queue_name(s.rabbit_name_prefix, s.app_id, q.application_id, q.handler)
        waited = max(0.0, self._clock.now() - q.oldest_pending_since)
        return Alert("queue.backlog", f"queue.backlog:{name}", f"Queue {q.handler} is backing up",
                     f"{q.depth} job(s) wait in {name}; the oldest for {waited:.0f}s.",
                     {"applicationId": q.application_id, "handler": q.handler, "queue": name,
                      "depth": q.depth, "oldestWaitSeconds": round(waited)})
