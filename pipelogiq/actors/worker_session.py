"""`WorkerSessionActor`: one per live worker; its heartbeat lease is a cancel-scope deadline."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from pipelogiq.actors.messages import Seen, drain
from pipelogiq.domain import WORKER_GONE

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.worker")


class WorkerSessionActor:
    def __init__(self, worker_id: str, inbox: trio.MemoryReceiveChannel[Seen], engine: Engine):
        self.worker_id = worker_id
        self._inbox = inbox
        self._engine = engine

    async def run(self) -> None:
        """Each Seen pushes the deadline to `at + WORKER_OFFLINE_AFTER`. When it passes, the
        database's `last_seen` decides (another replica may have seen the worker); a stale
        worker is marked offline and its jobs go back to the queue. Exits when the worker is
        offline or stopped."""
        eng = self._engine
        offline_after = eng.settings.worker_offline_after
        drain(self._inbox)
        row = await eng.store.worker_last_seen(self.worker_id)
        if row is None or row[0] in WORKER_GONE:
            return
        deadline = row[1] + offline_after
        while True:
            with trio.move_on_at(eng.clock.trio_deadline(deadline)) as timer:
                try:
                    seen = await self._inbox.receive()
                except trio.EndOfChannel:
                    return
                deadline = max(deadline, seen.at + offline_after)
            if not timer.cancelled_caught:
                continue
            for seen in drain(self._inbox):
                deadline = max(deadline, seen.at + offline_after)
            row = await eng.store.worker_last_seen(self.worker_id)
            if row is None or row[0] in WORKER_GONE:
                return
            now = eng.clock.now()
            if row[1] + offline_after > now:
                deadline = row[1] + offline_after
                continue
            message = f"no heartbeat for {offline_after:g}s"
            if await eng.store.set_worker_gone(self.worker_id, "offline", message,
                                               stale_before=now - offline_after):
                log.warning("worker %s offline: %s", self.worker_id, message)
                eng.alerter.worker_offline(self.worker_id, message)
                await eng.worker_lost(self.worker_id, f"worker went offline ({message})")
            return
