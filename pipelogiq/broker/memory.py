"""The in-process broker of embedded mode: one FIFO per handler queue.

Jobs here are an index of what the database says is `Pending`; after a restart recovery
publishes every `Pending` stage again, so nothing depends on this memory surviving.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import trio

from pipelogiq.domain import Job

_Key = tuple[int, str]


class _Queue:
    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.changed = trio.Event()

    def wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class MemoryBroker:
    kind = "memory"

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
