"""`Watchdog`: expired leases and `timeOut`s, stale `Pending` stages, and the safety sweep."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

log = logging.getLogger("pipelogiq.watchdog")

PURGE_INTERVAL = 3600.0  # retention is in days; hourly is plenty
RETRY_AFTER_ERROR = 1.0  # a pass that failed (the database or broker away) runs again then


class Watchdog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = trio.Event()
        self._planned = float("inf")  # wall time of the next planned check

    def note_deadline(self, wall: float) -> None:
        """A lease was granted or moved: wake early if it ends before the planned check."""
        if wall < self._planned:
            self._wake.set()

    async def check(self) -> float | None:
        """One pass; returns the next wall time something may expire."""
        eng, s = self._engine, self._engine.settings
        while True:
            rec = await eng.store.reclaim_expired(s.max_redeliveries)
            await eng.apply_reclaimed(rec)
            stale = await eng.store.fail_stale_pending(s.stage_pending_timeout)
            eng.metrics.pending_marked_failed_total.inc(len(stale.pipeline_ids))
            await eng.apply_reclaimed(stale)
            if len(rec.jobs) + len(rec.pipeline_ids) < 500 and len(stale.pipeline_ids) < 500:
                break
        return await eng.store.next_deadline(s.stage_pending_timeout)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Sleeps until the earliest lease or pending deadline (or a wake-up), then reclaims.
        Every SAFETY_SWEEP_INTERVAL it also re-evaluates pipelines a lost wake-up missed, and
        every hour it purges what is older than RETENTION. A pass that fails (the database or
        the broker is away) is logged and runs again after RETRY_AFTER_ERROR."""
        eng = self._engine
        task_status.started()
        next_sweep = next_purge = eng.clock.now()
        while True:
            self._wake = trio.Event()
            self._planned = float("inf")  # while checking, any new deadline means: look again
            try:
                upcoming = await self.check()
                now = eng.clock.now()
                if now >= next_sweep:
                    await eng.sweep()
                    next_sweep = now + eng.settings.safety_sweep_interval
                if now >= next_purge:
                    purged = await eng.store.purge_finished(eng.settings.retention)
                    if purged:
                        log.info("retention: purged %d finished pipeline(s)", purged)
                    next_purge = now + PURGE_INTERVAL
            except Exception as exc:  # an outage must not stop the watchdog for good
                log.warning("watchdog pass failed (%r); again in %gs", exc, RETRY_AFTER_ERROR)
                upcoming = eng.clock.now() + RETRY_AFTER_ERROR
            self._planned = min(upcoming or next_sweep, next_sweep)
            with trio.move_on_at(eng.clock.trio_deadline(self._planned)):
                await self._wake.wait()
