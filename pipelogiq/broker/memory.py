"""The in-process broker of embedded mode: one FIFO per handler queue.

Jobs here are an index of what the database says is `Pending`; after a restart recovery
publishes every `Pending` stage again, so nothing depends on this memory surviving.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from pipelogiq.broker.base import DeadLettered, Taken
from pipelogiq.domain import Job

_Key = tuple[int, str]


class _Queue:
    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.changed = trio.Event()

    def wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class MemoryFeed:
    """A handler queue of the in-process broker: jobs are there whether anybody waits or not,
    and taking one is final (the database holds the truth), so settling is a no-op."""

    def __init__(self, broker: MemoryBroker, application_id: int, handler: str) -> None:
        self._broker = broker
        self._key = (application_id, handler)

    def want(self, jobs: int) -> None:
        pass

    def take_nowait(self, max_jobs: int) -> list[Taken]:
        return [Taken(job) for job in self._broker.take_nowait(*self._key, max_jobs)]

    async def wait_ready(self) -> None:
        await self._broker.wait_ready(*self._key)

    def trusted_from(self) -> float:
        return float("-inf")  # the queue is right here

    def done(self, taken: Sequence[Taken]) -> None:
        pass

    def put_back(self, taken: Sequence[Taken]) -> list[Job]:
        self._broker.give_back([t.job for t in taken])
        return []


class MemoryBroker:
    kind = "memory"
    wants_payloads = False

    def __init__(self) -> None:
        self._queues: dict[_Key, _Queue] = {}

    def _q(self, key: _Key) -> _Queue:
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = _Queue()
        return q

    async def publish(self, jobs: Sequence[Job]) -> None:
        touched = set()
        for job in jobs:
            key = (job.application_id, job.handler)
            self._q(key).jobs.append(job)
            touched.add(key)
        for key in touched:
            self._queues[key].wake()
        await trio.lowlevel.checkpoint()

    def take_nowait(self, application_id: int, handler: str, max_jobs: int) -> list[Job]:
        q = self._queues.get((application_id, handler))
        if q is None:
            return []
        return [q.jobs.popleft() for _ in range(min(max_jobs, len(q.jobs)))]

    async def wait_ready(self, application_id: int, handler: str) -> None:
        q = self._q((application_id, handler))
        while not q.jobs:
            await q.changed.wait()

    @asynccontextmanager
    async def feed(self, application_id: int, handler: str,
                   dead_lettered: DeadLettered | None = None) -> AsyncIterator[MemoryFeed]:
        yield MemoryFeed(self, application_id, handler)

    async def put_back(self, jobs: Sequence[Job]) -> None:
        self.give_back(jobs)
        await trio.lowlevel.checkpoint()

    async def unqueued(self, jobs: Sequence[Job]) -> list[Job]:
        """Exact: what is not in its queue here (after a restart, everything)."""
        await trio.lowlevel.checkpoint()
        queued = {(j.stage_id, j.attempt) for q in self._queues.values() for j in q.jobs}
        return [j for j in jobs if (j.stage_id, j.attempt) not in queued]

    def give_back(self, jobs: Sequence[Job]) -> None:
        for job in reversed(jobs):
            q = self._q((job.application_id, job.handler))
            q.jobs.appendleft(job)
            q.wake()

    def depth(self, application_id: int, handler: str) -> int:
        q = self._queues.get((application_id, handler))
        return len(q.jobs) if q else 0

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()
