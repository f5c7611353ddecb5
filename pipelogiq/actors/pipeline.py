"""`PipelineActor`: one per active pipeline; owns its readiness, dispatch, retries, outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import trio

from pipelogiq import statemachine as sm
from pipelogiq.actors.messages import Kick, drain
from pipelogiq.domain import FINISHED_PIPELINE, StageState, StageStatus
from pipelogiq.store.base import Held

if TYPE_CHECKING:
    from pipelogiq.actors.engine import Engine

HIBERNATE_AFTER = 30.0  # an actor with nothing scheduled leaves; the next Kick rebuilds it


class PipelineActor:
    def __init__(self, pipeline_id: int, inbox: trio.MemoryReceiveChannel[Kick], engine: Engine):
        self.pipeline_id = pipeline_id
        self._inbox = inbox
        self._engine = engine
        self._hibernating = False
        self._stages: list[StageState] | None = None  # as last read or known, in order

    async def run(self) -> None:
        """Evaluate the pipeline on start and on every Kick.

        Dispatches the ready stage, sleeps until a retry is due (a cancel-scope deadline),
        records the outcome. Exits when the pipeline is finished, or hibernates when it
        waits only on a worker; the registry spawns it again on the next Kick.
        """
        kicks: list[Kick] = []
        while True:
            kicks += drain(self._inbox)
            wake_at = await self.step(kicks)
            kicks = []
            if wake_at is None:
                return
            with trio.move_on_at(wake_at) as timer:
                try:
                    kicks.append(await self._inbox.receive())
                except trio.EndOfChannel:
                    return
            if timer.cancelled_caught and self._hibernating:
                return

    async def step(self, kicks: Sequence[Kick] = ()) -> float | None:
        """One evaluation: returns the Trio time to wake up at, or None when done. Plans
        from what it knows when every Kick since the last one says what changed (an ack's
        stage); reads the pipeline again otherwise (start, timers, anyone else's change)."""
        stages = self._known(kicks)
        if stages is None:
            status, stages = await self._engine.store.stage_states(self.pipeline_id)
            if status is None or status in FINISHED_PIPELINE:
                return None
        return await self._act(stages)

    def _known(self, kicks: Sequence[Kick]) -> list[StageState] | None:
        known = self._stages
        if known is None or not kicks:
            return None
        changed: dict[int, StageState] = {}
        for kick in kicks:
            if not kick.states:
                return None
            changed.update((s.id, s) for s in kick.states)
        if not changed.keys() <= {s.id for s in known}:
            return None
        return [changed.get(s.id, s) for s in known]

    async def _act(self, stages: list[StageState]) -> float | None:
        eng = self._engine
        self._stages = stages
        plan = sm.plan(stages, eng.clock.now())
        self._hibernating = False
        match plan:
            case sm.Dispatch(stage):
                reason = "retry due" if stage.retries_used else "ready"
                job = await eng.store.dispatch(stage.id, reason)
                if isinstance(job, Held):  # a policy holds it back: look again when it allows
                    eng.changed(self.pipeline_id)  # its waitReason is news for the dashboard
                    eng.policies_acted(job.triggers)
                    return eng.clock.trio_deadline(job.until)
                if job is None:  # the stage moved meanwhile: read the pipeline again
                    self._stages = None
                    return await self.step()
                eng.metrics.stage_status_updated_total.inc()
                eng.changed(self.pipeline_id)  # committed: announce before publishing
                await eng.publish([job])
                # The dispatch committed `Pending`: plan on from that, not from a re-read
                # (a change by anyone else comes with a Kick of its own).
                return await self._act([attrs.evolve(s, status=StageStatus.PENDING)
                                        if s.id == stage.id else s for s in stages])
            case sm.WaitUntil(at):
                return eng.clock.trio_deadline(at)
            case sm.Busy():
                self._hibernating = True
                return trio.current_time() + HIBERNATE_AFTER
            case sm.Finish(outcome, reason):
                if await eng.store.finish_pipeline(self.pipeline_id, outcome, reason):
                    eng.pipeline_finished(self.pipeline_id, outcome, reason)
                    eng.changed(self.pipeline_id)
                return None
        return None
