"""A real Engine over a real SQLite store running inline on the Trio thread.

With the store inline nothing leaves the Trio thread, so `autojump_clock` is exact: virtual
time only moves when every task waits on a deadline, and the assertions can name the exact
second something happens. Tests wait for state changes through the Hub, never on a timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from pipelogiq.actors.engine import Engine
from pipelogiq.actors.hub import Hub
from pipelogiq.alerts import AlertEmitter
from pipelogiq.broker.memory import MemoryBroker
from pipelogiq.clock import TrioClock
from pipelogiq.config import Settings
from pipelogiq.domain import (
    Delivered,
    JobResult,
    NewPipeline,
    NewStage,
    StageOptions,
    StageState,
)
from pipelogiq.store.base import AckOutcome
from pipelogiq.store.sqlite import SqliteStore

GUARD = 100_000.0  # virtual seconds: turns a wait that can never end into a failure
EPS = 1e-6

Predicate = Callable[[str | None, list[StageState]], bool]


def settings(**overrides: Any) -> Settings:
    """Short, explicit engine settings (durations in seconds)."""
    base: dict[str, Any] = {
        "job_lease": 60.0,
        "worker_heartbeat_interval": 15.0,
        "worker_offline_after": 45.0,
        "stage_pending_timeout": 300.0,
        "safety_sweep_interval": 10.0,
        "max_redeliveries": 3,
    }
    base.update(overrides)
    return Settings(**base)


def stage(name: str = "s", handler: str = "h", **options: Any) -> NewStage:
    return NewStage(name=name, handler=handler, input=f"in-{name}",
                    options=StageOptions(**options))


@attrs.define
class Harness:
    store: SqliteStore
    engine: Engine
    clock: TrioClock
    app_id: int
    nursery: trio.Nursery

    async def create(self, *stages: NewStage, name: str = "p") -> int:
        """Store a pipeline and wake its actor, as `POST /pipelines` does."""
        pid, created = await self.store.create_pipeline(
            NewPipeline(application_id=self.app_id, name=name, stages=tuple(stages)))
        assert created
        self.engine.kick(pid)
        return pid

    async def states(self, pid: int) -> tuple[str | None, list[StageState]]:
        return await self.store.stage_states(pid)

    async def stage(self, pid: int, index: int = 0) -> StageState:
        return (await self.states(pid))[1][index]

    async def wait_for(self, pid: int, predicate: Predicate) -> tuple[str | None, list[StageState]]:
        """Until `predicate(pipeline_status, stages)` holds, woken by the hub on each change."""
        changes = self.engine.hub.subscribe()
        async with changes:
            with trio.fail_after(GUARD):
                while True:
                    status, stages = await self.states(pid)
                    if predicate(status, stages):
                        return status, stages
                    while await changes.receive() != pid:
                        pass

    async def wait_stage(self, pid: int, status: str, *, index: int = 0,
                         attempt: int | None = None) -> StageState:
        def done(_: str | None, stages: list[StageState]) -> bool:
            s = stages[index]
            return s.status == status and (attempt is None or s.attempt == attempt)

        _, stages = await self.wait_for(pid, done)
        return stages[index]

    async def pull(self, handler: str = "h", wait: float = 0.0, max_jobs: int = 1,
                   worker_id: str | None = None) -> list[Delivered]:
        with trio.fail_after(GUARD):
            return await self.engine.pull(self.app_id, handler, max_jobs, wait, worker_id)

    async def pull_one(self, handler: str = "h", wait: float = 3600.0,
                       worker_id: str | None = None) -> Delivered:
        jobs = await self.pull(handler, wait, 1, worker_id)
        assert len(jobs) == 1, jobs
        return jobs[0]

    async def ack(self, token: str, **result: Any) -> AckOutcome:
        return await self.engine.ack(self.app_id, token, JobResult(**result))

    async def logs(self, pid: int, index: int = 0) -> list[str]:
        doc = await self.store.pipeline_json(pid, with_logs=True)
        assert doc is not None
        return [line["message"] for line in doc["stages"][index]["logs"]]

    async def pipeline_logs(self, pid: int) -> list[str]:
        doc = await self.store.pipeline_json(pid, with_logs=True)
        assert doc is not None
        return [line["message"] for line in doc.get("pipelineLogs") or []]


@asynccontextmanager
async def running_engine(
    tmp_path: Path,
    config: Settings,
    *,
    store_factory: Callable[[str, TrioClock], SqliteStore] | None = None,
    broker: MemoryBroker | None = None,
    alerter: AlertEmitter | None = None,
) -> AsyncIterator[Harness]:
    """A migrated store, one application and a started Engine; torn down on exit."""
    clock = TrioClock()
    path = str(tmp_path / "t.db")
    store = (store_factory(path, clock) if store_factory
             else SqliteStore(path, clock, inline=True))
    async with store:
        await store.migrate()
        app = await store.create_application("app", None, None)
        engine = Engine(store, broker or MemoryBroker(), Hub(), clock, config, alerter=alerter)
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            yield Harness(store, engine, clock, int(app["id"]), nursery)
            nursery.cancel_scope.cancel()


def statuses(stages: Sequence[StageState]) -> list[str]:
    return [str(s.status) for s in stages]
