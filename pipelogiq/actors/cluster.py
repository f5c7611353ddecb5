"""`Cluster`: what links one process to the other replicas in RabbitMQ mode.

- Every pipeline change goes to `StageUpdated.fanout` (a `Relay`); each API replica's hub
  hears the other processes' changes through its own exclusive queue and pushes them to its
  `/ws` subscribers (SPEC §7).
- An API replica applies HTTP acks itself and then wakes *one* engine: the pipeline ids go to
  the engines' shared wake queue (competing consumers), so each wake-up is evaluated once, by
  whichever engine takes it. Two engines may still look at one pipeline at the same time (a
  later wake-up taken by the other engine, or both safety sweeps); that race is harmless
  because every transition is a conditional update, and rare enough not to cost much.
- Engines consume `StageResult` and `StageSetStatus` from AMQP-direct workers.

Wake-ups and updates are news, not state: a lost one is caught by the engines' safety sweep
(`SAFETY_SWEEP_INTERVAL`) or the dashboard's next reload.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Literal, Protocol

import trio

from pipelogiq.actors import relay
from pipelogiq.actors.relay import Relay
from pipelogiq.actors.stage_consumer import Kind, StageConsumer
from pipelogiq.broker.rabbit_consumer import Delivery, UpdateStream
from pipelogiq.broker.rabbit_feed import discard
from pipelogiq.broker.rabbit_topology import RabbitConfig

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.cluster")

Role = Literal["serve", "api", "engine"]
WAKE_PREFETCH = 64


class Link(Protocol):
    """What the cluster needs of the RabbitMQ broker."""

    @property
    def config(self) -> RabbitConfig: ...

    def consume(self, queue: str, prefetch: int | None = None
                ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Delivery]]: ...

    def updates(self) -> AbstractAsyncContextManager[UpdateStream]: ...

    async def publish_update(self, payload: bytes) -> None: ...

    async def publish_to(self, queue: str, bodies: list[bytes]) -> None: ...


class Cluster:
    def __init__(self, link: Link, role: Role) -> None:
        self.link = link
        self.role = role
        self.origin = uuid.uuid4().hex  # this process, so it skips its own updates
        cfg = link.config
        self.updates = Relay("updates", self.origin, link.publish_update)
        self.wakes = Relay("wakes", self.origin, self._publish_wake)
        self.wake_queue = cfg.engine_wakes
        self.heard = 0  # changes of other processes passed to the hub (tests)

    async def _publish_wake(self, body: bytes) -> None:
        await self.link.publish_to(self.wake_queue, [body])

    async def run(self, engine: Engine, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Owns the relays and consumers of this process's role. `started()` once every
        consumer is subscribed. Runs until cancelled."""
        cfg = self.link.config
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.updates.run)
            if self.role != "engine":
                await nursery.start(self._hear_updates, engine)
            if self.role == "api":
                nursery.start_soon(self.wakes.run)
            else:
                await nursery.start(self._take_wakes, engine)
                queues: list[tuple[Kind, str]] = [("StageResult", cfg.stage_result),
                                                  ("StageSetStatus", cfg.stage_set_status)]
                for kind, queue in queues:
                    consumer = StageConsumer(engine, self.link, kind, queue,
                                             dead_letter=cfg.dlq_enabled)
                    await nursery.start(consumer.run)
            task_status.started()

    async def _hear_updates(self, engine: Engine, *,
                            task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                            ) -> None:
        async with self.link.updates() as stream, trio.open_nursery() as nursery:
            nursery.start_soon(self._reset_after_gaps, engine, stream)
            task_status.started()
            async for body in stream:
                try:
                    origin, ids = relay.decode(body)
                except ValueError as exc:
                    log.warning("ignoring an update that is not ours: %s", exc)
                    continue
                if origin == self.origin:
                    continue
                for pipeline_id in ids:
                    engine.hub.pipeline_changed(pipeline_id)
                self.heard += len(ids)

    async def _reset_after_gaps(self, engine: Engine, stream: UpdateStream) -> None:
        """A new subscription (after a reconnect) means changes published meanwhile were
        missed: dashboards on this replica reload."""
        seen = stream.subscriptions
        while True:
            seen = await stream.wait_subscribed(seen)
            log.warning("live updates from other replicas resumed: dashboards reload")
            engine.hub.reset()

    async def _take_wakes(self, engine: Engine, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                          ) -> None:
        async with self.link.consume(self.wake_queue, WAKE_PREFETCH) as deliveries:
            task_status.started()
            async for delivery in deliveries:
                try:
                    _, ids = relay.decode(delivery.body)
                except ValueError as exc:
                    discard(delivery, f"not a wake-up: {exc}", dead_letter=False,
                            dead_lettered=None)
                    continue
                for pipeline_id in ids:
                    engine.kick_here(pipeline_id)
                delivery.ack()  # the kick is queued; a crash now is what the sweep is for
