"""`HandlerQueueActor`: one per (application, handler) with waiting pulls.

Owns the FIFO of long-poll waiters. While a waiter is there it takes jobs from the broker,
leases them in the store (`Pending → Running`, a conditional update that drops stale jobs)
and hands them over; a waiter that left meanwhile gets nothing and the leases are returned.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from pipelogiq.actors.messages import Pull
from pipelogiq.domain import Delivered

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.queue")

IDLE_EXIT = 60.0  # no waiter for this long: the actor leaves; the next pull spawns it again


class HandlerQueueActor:
    def __init__(
        self, key: tuple[int, str], inbox: trio.MemoryReceiveChannel[Pull], engine: Engine
    ) -> None:
        self.application_id, self.handler = key
        self._inbox = inbox
        self._engine = engine
        self._waiters: deque[Pull] = deque()
        self._changed = trio.Event()
        self.queue = engine.queue_name(self.application_id, self.handler)

    async def run(self) -> None:
        """Reads waiters from the inbox while the delivery loop serves them.

        Leaves after IDLE_EXIT without waiters, or when the inbox closes; waiters still
        queued then are answered with no jobs.
        """
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._deliver_loop)
                while True:
                    with trio.move_on_after(IDLE_EXIT) as idle:
                        try:
                            pull = await self._inbox.receive()
                        except trio.EndOfChannel:
                            break
                    if idle.cancelled_caught:
                        if not self._waiters:
                            break
                        continue
                    self._waiters.append(pull)
                    self._changed.set()
                nursery.cancel_scope.cancel()
        finally:
            for waiter in self._waiters:
                self._answer(waiter, [])

    def _answer(self, waiter: Pull, jobs: list[Delivered]) -> bool:
        try:
            waiter.reply.send_nowait(jobs)
            return True
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.WouldBlock):
            return False

    def _expire(self) -> None:
        now = trio.current_time()
        closing = self._engine.intake_closed.is_set()
        live: deque[Pull] = deque()
        for w in self._waiters:
            if w.gone:
                continue
            if w.deadline <= now or closing:
                self._answer(w, [])
            else:
                live.append(w)
        self._waiters = live

    async def _wait_for_change(self) -> None:
        """Until a waiter arrives or, while one waits, a job arrives or the earliest
        waiter's deadline passes."""
        self._changed = trio.Event()
        if not self._waiters:
            await self._changed.wait()
            return
        deadline = min(w.deadline for w in self._waiters)
        broker = self._engine.broker
        with trio.move_on_at(deadline):
            async with trio.open_nursery() as race:
                async def job_ready() -> None:
                    await broker.wait_ready(self.application_id, self.handler)
                    race.cancel_scope.cancel()

                async def waiter_added() -> None:
                    await self._changed.wait()
                    race.cancel_scope.cancel()

                async def intake_closed() -> None:
                    await self._engine.intake_closed.wait()
                    race.cancel_scope.cancel()

                race.start_soon(job_ready)
                race.start_soon(waiter_added)
                race.start_soon(intake_closed)

    async def _deliver_loop(self) -> None:
        eng = self._engine
        while True:
            # Always try the queue before expiring anyone: a zero-wait pull must see a job
            # that is already there.
            head = next((w for w in self._waiters if not w.gone), None)
            jobs = eng.broker.take_nowait(self.application_id, self.handler,
                                          head.max_jobs) if head else []
            if not jobs:
                self._expire()
                await self._wait_for_change()
                continue
            assert head is not None
            try:
                delivered = await eng.store.lease(jobs, self.queue, head.worker_id,
                                                  eng.settings.job_lease)
            except BaseException:
                eng.broker.give_back(jobs)  # taken but not leased: back on the queue, not lost
                raise
            if not delivered:
                continue  # every job was stale (its stage moved on): dropped
            self._waiters.remove(head)
            if head.gone or not self._answer(head, delivered):
                await eng.give_back(delivered)
                continue
            eng.delivered(delivered)
