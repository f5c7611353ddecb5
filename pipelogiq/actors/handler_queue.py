"""`HandlerQueueActor`: one per (application, handler) with waiting pulls.

Owns the FIFO of long-poll waiters and its queue's feed (`Broker.feed`), to which it says how
many jobs its waiters want (a RabbitMQ feed consumes only while that is above zero). While a
waiter is there it takes jobs from the feed, leases them in the store (`Pending → Running`, a
conditional update that drops stale jobs), hands them over and only then settles their
messages; a waiter that left meanwhile gets nothing, the leases are returned and the messages
go back on the queue.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from pipelogiq.actors.messages import Pull
from pipelogiq.broker.base import JobFeed, Taken
from pipelogiq.domain import Delivered

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.queue")

IDLE_EXIT = 60.0  # no waiter for this long: the actor leaves; the next pull spawns it again
# How long past its deadline a waiter may be kept while the feed cannot yet tell an empty
# queue (a RabbitMQ consumer that is still subscribing): a zero-wait pull sees a job that is
# already there, but never waits long on a broker that is away.
MAX_EMPTY_GRACE = 1.0
# Jobs often come in bursts (one ack request settles many stages, each dispatching the next):
# while the queue keeps growing, a waiter with room for more is answered up to this many
# scheduling rounds later, with what came meanwhile (fewer, fuller pulls; no timer involved).
LINGER_ROUNDS = 3


class HandlerQueueActor:
    def __init__(
        self, key: tuple[int, str], inbox: trio.MemoryReceiveChannel[Pull], engine: Engine
    ) -> None:
        self.application_id, self.handler = key
        self._inbox = inbox
        self._engine = engine
        self._waiters: deque[Pull] = deque()
        self._changed = trio.Event()
        self._feed: JobFeed
        self.queue = engine.queue_name(self.application_id, self.handler)

    async def run(self) -> None:
        """Reads waiters from the inbox while the delivery loop serves them.

        Leaves after IDLE_EXIT without waiters, or when the inbox closes; waiters still
        queued then are answered with no jobs, and the feed is closed (a RabbitMQ consumer
        returns what it held to the queue).
        """
        try:
            broker = self._engine.broker
            async with broker.feed(self.application_id, self.handler,
                                   self._engine.dead_lettered) as feed, \
                    trio.open_nursery() as nursery:
                self._feed = feed
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
                    pull.poke = self._poke
                    self._waiters.append(pull)
                    self._want()
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

    def _deadline(self, w: Pull) -> float:
        """When `w` is answered empty-handed: its deadline, once the feed can tell."""
        return max(w.deadline, min(self._feed.trusted_from(), w.deadline + MAX_EMPTY_GRACE))

    def _expire(self) -> None:
        now = trio.current_time()
        closing = self._engine.intake_closed.is_set()
        live: deque[Pull] = deque()
        for w in self._waiters:
            if w.gone:
                continue
            if self._deadline(w) <= now or closing:
                self._answer(w, [])
            else:
                live.append(w)
        self._waiters = live
        self._want()

    def _poke(self) -> None:
        self._changed.set()

    def _want(self) -> None:
        self._feed.want(sum(w.max_jobs for w in self._waiters if not w.gone))

    async def _wait_for_change(self) -> None:
        """Until a waiter arrives or leaves or, while one waits, a job arrives or the earliest
        waiter's deadline passes."""
        self._changed = trio.Event()
        if not self._waiters:
            await self._changed.wait()
            return
        deadline = min(self._deadline(w) for w in self._waiters)
        with trio.move_on_at(deadline):
            async with trio.open_nursery() as race:
                async def job_ready() -> None:
                    await self._feed.wait_ready()
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
            taken = self._feed.take_nowait(head.max_jobs) if head else []
            if not taken:
                self._expire()
                await self._wait_for_change()
                continue
            assert head is not None
            try:
                await self._linger(head, taken)
                delivered = await eng.store.lease([t.job for t in taken], self.queue,
                                                  head.worker_id, eng.settings.job_lease)
            except BaseException:
                # taken but not leased: back on the queue, not lost
                await self._put_back(taken)
                raise
            leased = {d.message_id for d in delivered}
            mine = [t for t in taken if _message_id(t) in leased]
            self._feed.done([t for t in taken if _message_id(t) not in leased])  # stale: dropped
            if not delivered:
                continue
            self._waiters.remove(head)
            self._want()
            if head.gone or not self._answer(head, delivered):
                await self._return(delivered, mine)
                continue
            self._feed.done(mine)
            eng.delivered(delivered)

    async def _linger(self, head: Pull, taken: list[Taken]) -> None:
        """Add to `taken` what arrives for `head` within LINGER_ROUNDS scheduling rounds,
        stopping at the first round that brought nothing."""
        for _ in range(LINGER_ROUNDS):
            if len(taken) >= head.max_jobs:
                return
            await trio.lowlevel.checkpoint()
            more = self._feed.take_nowait(head.max_jobs - len(taken))
            if not more:
                return
            taken += more

    async def _return(self, delivered: list[Delivered], taken: list[Taken]) -> None:
        """The puller left: leases back to `Pending`, then the messages back on the queue."""
        eng = self._engine
        with trio.CancelScope(shield=True):
            await eng.store.return_leases([d.token for d in delivered])
            await self._put_back(taken)
        eng.dispatched([t.job for t in taken])
        for d in delivered:
            eng.changed(d.payload["pipelineId"])

    async def _put_back(self, taken: list[Taken]) -> None:
        lost = self._feed.put_back(taken)
        if lost:  # their messages went with a consumer that closed meanwhile
            with trio.CancelScope(shield=True):
                await self._engine.put_back(lost)


def _message_id(t: Taken) -> str:
    return f"{t.job.stage_id}.{t.job.attempt}"
