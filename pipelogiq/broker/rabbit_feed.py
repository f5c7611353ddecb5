"""A handler queue on RabbitMQ as its handler-queue actor sees it (SPEC §5, HTTP pulls).

The feed consumes the queue only while the actor's waiting pullers want jobs: a consumer (its
own channel, prefetch = the jobs wanted when it opened, at most MAX_PREFETCH) is opened when
the first puller waits. When none waits any more it stays subscribed for a short LINGER —
workers pull again right after they ack, and re-subscribing costs several round trips — and
a message that arrives (or is left over) while nobody here waits is held at most HOLD seconds
for the next pull before the consumer closes, which hands it back to the queue for pullers on
other replicas. So a replica never sits on jobs nobody waits for there for longer than that. The actor settles each message after
the database has the lease: `done` acks it (leased, or stale and dropped), `put_back` nacks it
back onto the queue.

A message that is not a job is dead-lettered (`RABBIT_DLQ_ENABLED`) or logged and acked: it is
never requeued, which would loop it forever.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from pipelogiq.broker.amqp_messages import BadMessage, decode_job
from pipelogiq.broker.base import DeadLettered, Taken
from pipelogiq.broker.rabbit_consumer import Delivery
from pipelogiq.domain import Job

log = logging.getLogger("pipelogiq.broker")

MAX_PREFETCH = 100  # the most one pull asks for (maxJobs)
# After subscribing, RabbitMQ pushes what the queue holds at once; this long after, an empty
# feed is taken to mean an empty queue (only zero-wait pulls ever wait on it).
FIRST_DELIVERY_GRACE = 0.1
LINGER = 0.5  # an idle consumer (nobody waits, nothing held) stays subscribed this long
HOLD = 0.1  # a message nobody here waits for is kept this long for the next pull


class Consumes(Protocol):
    def consume(self, queue: str, prefetch: int | None = None
                ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Delivery]]: ...


def discard(delivery: Delivery, reason: str, *, dead_letter: bool,
            dead_lettered: DeadLettered | None) -> None:
    """Settle a message that can never be used: into `<queue>.dlq` when dead-lettering is on
    (and say so to `dead_lettered`), else logged and acked. Never requeued."""
    if dead_letter:
        log.warning("dead-lettering a message of %s: %s", delivery.queue, reason)
        delivery.reject()
        if dead_lettered is not None:
            dead_lettered(delivery.queue, delivery.message_id, reason)
    else:
        log.error("dropping a message of %s: %s", delivery.queue, reason)
        delivery.ack()


class RabbitFeed:
    def __init__(self, broker: Consumes, queue: str, key: tuple[int, str], *,
                 dead_letter: bool, dead_lettered: DeadLettered | None) -> None:
        self._broker = broker
        self._queue = queue
        self._key = key
        self._dead_letter = dead_letter
        self._dead_lettered = dead_lettered
        self._wanted = 0
        self._changed = trio.Event()  # set when the jobs wanted change, or a message arrives
        self._ready: deque[Taken] = deque()
        self._arrived = trio.Event()
        self._trusted_from = float("inf")
        self.subscriptions = 0  # consumers opened so far (tests, metrics)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Owns the consumer: open while jobs are wanted, closed (its unacked messages back
        on the queue) when not. `started()` at once. Runs until cancelled."""
        task_status.started()
        while True:
            await self._until(lambda: self._wanted > 0)
            try:
                await self._consume_while_wanted()
            finally:
                self._trusted_from = float("inf")
            self._ready.clear()  # their channel is closed: RabbitMQ has them back

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _until(self, ok: Callable[[], bool]) -> None:
        while not ok():
            await self._changed.wait()

    async def _until_unwanted(self) -> None:
        """Return when the consumer should close: nobody has waited for LINGER seconds, or
        for HOLD seconds while it holds a message."""
        while True:
            await self._until(lambda: self._wanted == 0)
            with trio.move_on_after(HOLD if self._ready else LINGER) as idle:
                await self._until(lambda: self._wanted > 0 or bool(self._ready))
            if idle.cancelled_caught:
                return
            if self._wanted == 0:  # a message arrived while idle: it may be held only HOLD
                with trio.move_on_after(HOLD) as held:
                    await self._until(lambda: self._wanted > 0)
                if held.cancelled_caught:
                    return

    async def _consume_while_wanted(self) -> None:
        prefetch = min(max(self._wanted, 1), MAX_PREFETCH)
        async with trio.open_nursery() as nursery:
            async def until_unwanted() -> None:
                await self._until_unwanted()
                nursery.cancel_scope.cancel()

            nursery.start_soon(until_unwanted)
            async with self._broker.consume(self._queue, prefetch) as deliveries:
                self.subscriptions += 1
                self._trusted_from = trio.current_time() + FIRST_DELIVERY_GRACE
                self._arrived.set()  # the actor now knows when it may answer "empty"
                async for delivery in deliveries:
                    self._accept(delivery)

    def _accept(self, delivery: Delivery) -> None:
        try:
            job = decode_job(delivery.body)
        except BadMessage as exc:
            discard(delivery, str(exc), dead_letter=self._dead_letter,
                    dead_lettered=self._dead_lettered)
            return
        if (job.application_id, job.handler) != self._key:
            discard(delivery, f"a job of application {job.application_id}, handler"
                              f" {job.handler!r} on the wrong queue",
                    dead_letter=self._dead_letter, dead_lettered=self._dead_lettered)
            return
        self._ready.append(Taken(job, delivery))
        self._arrived.set()
        if self._wanted == 0:
            self._poke()  # nobody here waits for it: hold it only briefly

    # -- the JobFeed interface ---------------------------------------------------------------

    def want(self, jobs: int) -> None:
        if jobs != self._wanted:
            self._wanted = jobs
            self._poke()

    def take_nowait(self, max_jobs: int) -> list[Taken]:
        return [self._ready.popleft() for _ in range(min(max_jobs, len(self._ready)))]

    async def wait_ready(self) -> None:
        if not self._ready:
            self._arrived = trio.Event()
            await self._arrived.wait()

    def trusted_from(self) -> float:
        return self._trusted_from

    def done(self, taken: Sequence[Taken]) -> None:
        for t in taken:
            _delivery(t).ack()

    def put_back(self, taken: Sequence[Taken]) -> list[Job]:
        lost = []
        for t in reversed(taken):
            delivery = _delivery(t)
            if delivery.live:
                delivery.nack(requeue=True)
            else:
                lost.append(t.job)
        return lost[::-1]


def _delivery(t: Taken) -> Delivery:
    assert isinstance(t.handle, Delivery)
    return t.handle
