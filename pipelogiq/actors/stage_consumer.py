"""`StageConsumer`: the engine's consumer of `StageResult` or `StageSetStatus` (SPEC §5).

AMQP-direct workers (the .NET SDK's way) publish these; each delivery becomes one conditional
update in the store, and the delivery is acked only after that commit. A message that can never
be applied — undecodable, wrong types, an unknown stage, a status other than `Running` — is
dead-lettered (`RABBIT_DLQ_ENABLED`) or logged and acked; a message for a stage that moved on
(a late result or `Running`) is logged and acked. None is requeued forever: a message whose
handling fails while the store answers (a bug, not an outage) is given one more delivery,
then discarded like bad input; while the store is down, messages are requeued after a pause.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Literal, Protocol

import trio

from pipelogiq.broker.amqp_messages import (
    BadMessage,
    decode_stage_result,
    decode_stage_set_status,
)
from pipelogiq.broker.rabbit_consumer import Delivery
from pipelogiq.broker.rabbit_feed import discard
from pipelogiq.domain import StageStatus
from pipelogiq.store.base import AckOutcome

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.consumer")

CONCURRENCY = 4  # deliveries applied at once (each one store transaction)
STORE_DOWN_PAUSE = 1.0  # before requeueing a message the store could not take

Kind = Literal["StageResult", "StageSetStatus"]


class Consumes(Protocol):
    def consume(self, queue: str, prefetch: int | None = None
                ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Delivery]]: ...


class StageConsumer:
    def __init__(self, engine: Engine, broker: Consumes, kind: Kind, queue: str, *,
                 dead_letter: bool, prefetch: int | None = None) -> None:
        self._engine = engine
        self._broker = broker
        self.kind = kind
        self.queue = queue
        self._dead_letter = dead_letter
        self._prefetch = prefetch
        self._apply: Callable[[bytes], Awaitable[AckOutcome]] = (
            self._result if kind == "StageResult" else self._status)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Owns the queue's consumer (across reconnects) and CONCURRENCY tasks applying its
        deliveries. `started()` once subscribed. On cancellation the consumer's channel
        closes and what was not acked goes back to the queue."""
        async with self._broker.consume(self.queue, self._prefetch) as deliveries, \
                trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(self._work, deliveries)
            task_status.started()

    async def _work(self, deliveries: trio.MemoryReceiveChannel[Delivery]) -> None:
        async for delivery in deliveries:
            await self.handle(delivery)

    async def handle(self, delivery: Delivery) -> None:
        try:
            outcome = await self._apply(delivery.body)
        except BadMessage as exc:
            self._discard(delivery, str(exc))
            return
        except Exception as exc:
            await self._failed(delivery, exc)
            return
        match outcome.kind:
            case "applied" | "duplicate":
                delivery.ack()
            case "not_found":
                self._discard(delivery, outcome.reason)
            case "conflict":
                log.info("%s for stage %s dropped: %s", self.kind, outcome.stage_id,
                         outcome.reason)
                delivery.ack()

    async def _result(self, body: bytes) -> AckOutcome:
        msg = decode_stage_result(body, self._engine.clock.now())
        return await self._engine.amqp_result(msg)

    async def _status(self, body: bytes) -> AckOutcome:
        msg = decode_stage_set_status(body)
        if msg.status != StageStatus.RUNNING:
            raise BadMessage(self.kind, f"status {msg.status} cannot be set by a worker"
                                        " (only Running; results go to StageResult)")
        return await self._engine.amqp_running(msg.stage_id)

    def _discard(self, delivery: Delivery, reason: str) -> None:
        discard(delivery, reason, dead_letter=self._dead_letter,
                dead_lettered=self._engine.dead_lettered)

    async def _failed(self, delivery: Delivery, exc: Exception) -> None:
        try:
            await self._engine.store.ping()
        except Exception:
            log.warning("%s not applied, the store is unavailable (%r); requeueing", self.kind,
                        exc)
            await trio.sleep(STORE_DOWN_PAUSE)
            delivery.nack(requeue=True)
            return
        if delivery.redelivered:
            log.exception("%s failed again with the store up: discarding it", self.kind,
                          exc_info=exc)
            self._discard(delivery, f"failed twice: {exc!r}")
        else:
            log.warning("%s failed with the store up (%r); one more delivery", self.kind, exc)
            delivery.nack(requeue=True)
