"""Alerts (SPEC §8): what the engine and the HTTP layer report, as non-blocking calls on an
`AlertEmitter`, and the pure rules the alerter applies (de-duplication, retry backoff).

An emitter call never waits and never fails: it hands a small record to the alerter
(`pipelogiq.actors.alerter.Alerter`), which checks the alerting config, resolves names from the
store, de-duplicates and delivers in its own tasks. The base `AlertEmitter` drops everything, so
code that runs without an alerter (unit tests, tools) needs no special case.

Every alert has an event kind (`integrations.ALERT_EVENTS`) and a de-duplication key: an alert
whose key was admitted within `DEDUP_WINDOW` is suppressed, so a flapping condition (a stage
rerun and failing again, a worker restarting in a loop, a queue hovering at its threshold)
alerts once per window. Keys:

| event | key |
|---|---|
| stage.failed | `stage.failed:<stageId>` (a rerun failing again within the window is one alert) |
| pipeline.failed / .completed | `pipeline.failed:<pipelineId>` |
| pipeline.stuck | `pipeline.stuck:<pipelineId>` |
| worker.started/stopped/failed/offline | `worker.<kind>:<workerId>` |
| policy.changed | `policy.changed:<policyId>:<action>:<version>` (each change is news) |
| policy.triggered | `policy.triggered:<policyId or name>` (a busy rate limit is one alert) |
| queue.backlog | `queue.backlog:<queue>` |
| message.deadlettered | `message.deadlettered:<queue>` |
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import attrs

DEDUP_WINDOW = 600.0  # seconds an admitted key suppresses repeats
DEDUP_MAX_KEYS = 10_000  # the oldest keys go first beyond this (bounded memory)

# Delivery retries: capped exponential backoff with ±JITTER, MAX_ATTEMPTS in all.
MAX_ATTEMPTS = 8
RETRY_BASE = 1.0
RETRY_CAP = 60.0
RETRY_AFTER_CAP = 300.0  # the most of a receiver's Retry-After we honour
JITTER = 0.2


# -- what emitters hand over -------------------------------------------------------------------

@attrs.frozen
class Alert:
    """A ready alert. `forced` delivers it even when its event is not selected in the config
    (a stage with `notifyOnFailure`)."""

    event: str
    key: str
    title: str
    text: str
    details: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    forced: bool = False


@attrs.frozen
class StageFailed:
    """A stage ended `Failed` (no retry left); the alerter reads its names and options."""

    pipeline_id: int
    stage_id: int
    event = "stage.failed"

    @property
    def key(self) -> str:
        return f"stage.failed:{self.stage_id}"


@attrs.frozen
class StageStuck:
    """The pending watchdog failed a stage no worker took within STAGE_PENDING_TIMEOUT."""

    pipeline_id: int
    stage_id: int
    event = "pipeline.stuck"

    @property
    def key(self) -> str:
        return f"pipeline.stuck:{self.pipeline_id}"


@attrs.frozen
class PipelineFinished:
    """A pipeline reached `Failed` or `Completed` (a cancellation is an operator's act)."""

    pipeline_id: int
    failed: bool
    reason: str

    @property
    def event(self) -> str:
        return "pipeline.failed" if self.failed else "pipeline.completed"

    @property
    def key(self) -> str:
        return f"{self.event}:{self.pipeline_id}"


@attrs.frozen
class WorkerChanged:
    """A worker started, stopped, reported `error` or went offline (`kind`); the alerter reads
    its name and host."""

    worker_id: str
    kind: str  # started | stopped | failed | offline
    message: str

    @property
    def event(self) -> str:
        return f"worker.{self.kind}"

    @property
    def key(self) -> str:
        return f"worker.{self.kind}:{self.worker_id}"


AlertMessage = Alert | StageFailed | StageStuck | PipelineFinished | WorkerChanged


class AlertEmitter:
    """What emission sites hold. Every method returns at once; this base drops everything
    (nothing delivers alerts), `Alerter` overrides `emit` and `config_changed`."""

    def emit(self, message: AlertMessage) -> None:
        """Hand a message to the alerter without waiting (dropped when it is full)."""

    def config_changed(self) -> None:
        """The alerting config was saved: read it again before the next alert."""

    # -- the engine ---------------------------------------------------------------------
    def stage_failed(self, pipeline_id: int, stage_id: int) -> None:
        self.emit(StageFailed(pipeline_id, stage_id))

    def pipeline_stuck(self, pipeline_id: int, stage_id: int) -> None:
        self.emit(StageStuck(pipeline_id, stage_id))

    def pipeline_finished(self, pipeline_id: int, status: str, reason: str) -> None:
        if status in ("Failed", "Completed"):
            self.emit(PipelineFinished(pipeline_id, status == "Failed", reason))

    # -- workers ------------------------------------------------------------------------
    def worker_started(self, worker_id: str) -> None:
        self.emit(WorkerChanged(worker_id, "started", "bootstrapped"))

    def worker_stopped(self, worker_id: str, reason: str) -> None:
        self.emit(WorkerChanged(worker_id, "stopped", reason))

    def worker_failed(self, worker_id: str, message: str) -> None:
        self.emit(WorkerChanged(worker_id, "failed", message))

    def worker_offline(self, worker_id: str, message: str) -> None:
        self.emit(WorkerChanged(worker_id, "offline", message))

    # -- policies -----------------------------------------------------------------------
    def policy_changed(self, application_id: int | None, policy_id: int, name: str | None,
                       action: str, actor: str, version: int | None = None) -> None:
        """A policy was created, updated, enabled, disabled, paused, resumed, duplicated or
        deleted (`action`, past tense) by `actor`."""
        label = f"{name} (#{policy_id})" if name else f"#{policy_id}"
        self.emit(Alert(
            "policy.changed", f"policy.changed:{policy_id}:{action}:{version}",
            f"Policy {name or policy_id} {action}", f"Policy {label} was {action} by {actor}.",
            _details(applicationId=application_id, policyId=policy_id, policyName=name,
                     action=action, actor=actor, version=version)))

    def policy_triggered(self, application_id: int | None, policy_name: str,
                         stage_id: int | None, what: str, *,
                         policy_id: int | None = None) -> None:
        """The engine applied a policy (`what`: e.g. "rate limit: held until …")."""
        on = f" on stage {stage_id}" if stage_id is not None else ""
        self.emit(Alert(
            "policy.triggered", f"policy.triggered:{policy_id if policy_id is not None else policy_name}",
            f"Policy {policy_name} triggered", f"Policy {policy_name}{on}: {what}",
            _details(applicationId=application_id, policyId=policy_id, policyName=policy_name,
                     stageId=stage_id, what=what)))

    # -- the broker ---------------------------------------------------------------------
    def message_deadlettered(self, queue: str, message_id: str | None, reason: str, *,
                             application_id: int | None = None,
                             stage_id: int | None = None) -> None:
        """A message ended in `<queue>.dlq` (RabbitMQ mode)."""
        self.emit(Alert(
            "message.deadlettered", f"message.deadlettered:{queue}",
            f"Message dead-lettered from {queue}",
            f"A message{f' ({message_id})' if message_id else ''} of {queue} was"
            f" dead-lettered: {reason}",
            _details(queue=queue, messageId=message_id, reason=reason,
                     applicationId=application_id, stageId=stage_id)))


def _details(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# -- de-duplication and backoff ----------------------------------------------------------------

class Deduper:
    """Keys admitted within the last `window` seconds (times from the caller's clock)."""

    def __init__(self, window: float = DEDUP_WINDOW, max_keys: int = DEDUP_MAX_KEYS) -> None:
        self.window = window
        self.max_keys = max_keys
        self._until: OrderedDict[str, float] = OrderedDict()  # oldest admission first

    def seen(self, key: str, now: float) -> bool:
        until = self._until.get(key)
        return until is not None and until > now

    def admit(self, key: str, now: float) -> bool:
        """True (and remembered) unless `key` was admitted within the window."""
        if self.seen(key, now):
            return False
        while self._until and (next(iter(self._until.values())) <= now
                               or len(self._until) >= self.max_keys):
            self._until.popitem(last=False)
        self._until.pop(key, None)
        self._until[key] = now + self.window
        return True

    def forget(self, key: str) -> None:
        """An alert that was never delivered does not suppress the next one."""
        self._until.pop(key, None)

    def __len__(self) -> int:
        return len(self._until)


def retryable(status: int | None) -> bool:
    """No answer, a timeout, 408, 429 or a 5xx is worth another attempt; other answers are
    the receiver's final word."""
    return status is None or status in (408, 429) or status >= 500


def retry_delay(attempt: int, rand: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): RETRY_BASE·2^(attempt−1)
    with ±JITTER (`rand` in [0, 1)), at most RETRY_CAP; a receiver's Retry-After is honoured
    up to RETRY_AFTER_CAP."""
    delay = RETRY_BASE * 2.0 ** (attempt - 1) * (1 - JITTER + 2 * JITTER * rand)
    delay = min(RETRY_CAP, delay)
    if retry_after is not None:
        delay = max(delay, min(RETRY_AFTER_CAP, retry_after))
    return delay
