"""Concurrency accounting of a worker: run slots shared by its pull loops and job tasks."""

from __future__ import annotations

import math

import anyio

MAX_JOBS_PER_PULL = 100


class Slots:
    """Concurrency accounting shared by the pull loops and the job tasks.

    A job is *waiting* from the moment it is pulled until it gets a run slot, then *running*.
    Pull loops only pull while ``waiting + running < total + ahead``: ``ahead`` jobs may be
    pulled before a slot is free for them (prefetch), so a busy worker takes several jobs per
    request instead of one whenever a slot frees up.
    """

    def __init__(self, total: int, ahead: int = 0) -> None:
        self.total = total
        self.ahead = ahead
        self.waiting = 0
        self.draining = False
        self._limiter = anyio.CapacityLimiter(total)
        self._changed = anyio.Event()
        self._waiter_scopes: set[anyio.CancelScope] = set()

    @property
    def running(self) -> int:
        return int(self._limiter.borrowed_tokens)

    @property
    def in_flight(self) -> int:
        return self.waiting + self.running

    @property
    def free(self) -> int:
        return max(0, self.total + self.ahead - self.in_flight)

    def set_ahead(self, ahead: int) -> None:
        if ahead != self.ahead:
            self.ahead = ahead
            self._notify()

    def pull_size(self, loops: int) -> int:
        """``maxJobs`` for one pull: the free slots, shared among the pull loops (1..100)."""
        return max(1, min(MAX_JOBS_PER_PULL, math.ceil(self.free / max(1, loops))))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_free(self) -> None:
        """Return once at least one slot is free."""
        while self.free == 0:
            await self._changed.wait()

    def pulled(self) -> None:
        """Count one more pulled job waiting for a slot."""
        self.waiting += 1
        self._notify()

    async def start(self) -> bool:
        """Wait for a run slot for a pulled job; ``False`` if draining began before it got one."""
        try:
            if self.draining:
                return False
            with anyio.CancelScope() as scope:
                self._waiter_scopes.add(scope)
                try:
                    await self._limiter.acquire()
                finally:
                    self._waiter_scopes.discard(scope)
            if scope.cancelled_caught:
                return False
            if self.draining:
                self._limiter.release()
                return False
            return True
        finally:
            self.waiting -= 1
            self._notify()

    def finish(self) -> None:
        """Give back the run slot taken by :meth:`start`."""
        self._limiter.release()
        self._notify()

    def drain(self) -> None:
        """Stop handing out slots: every job still waiting gives up at once."""
        self.draining = True
        for scope in list(self._waiter_scopes):
            scope.cancel()
