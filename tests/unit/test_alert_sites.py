"""Where the engine emits alerts, over the real Engine and an inline SQLite store on virtual
time (see `actor_harness`): a final failure (ack, poison job, `timeOut`, pending timeout) is a
`stage.failed`, a retry is not; the pending watchdog is `pipeline.stuck`; a pipeline's outcome
is reported once; a worker that stops heartbeating is `worker.offline`. The recording emitter
stores what it is given (and hands it to a channel a test can wait on); emission is
synchronous with the transition, so a test that has seen the state change can read the
record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from actor_harness import EPS, GUARD, Harness, running_engine, settings, stage
from pipelogiq.alerts import (
    AlertEmitter,
    AlertMessage,
    PipelineFinished,
    StageFailed,
    StageStuck,
    WorkerChanged,
)
from pipelogiq.config import Settings


class Recorder(AlertEmitter):
    def __init__(self) -> None:
        self.messages: list[AlertMessage] = []
        self._send, self._recv = trio.open_memory_channel[AlertMessage](100)

    def emit(self, message: AlertMessage) -> None:
        self.messages.append(message)
        self._send.send_nowait(message)

    async def next(self) -> AlertMessage:
        with trio.fail_after(GUARD):
            return await self._recv.receive()


@asynccontextmanager
async def engine(tmp_path: Path, config: Settings) -> AsyncIterator[tuple[Harness, Recorder]]:
    recorder = Recorder()
    async with running_engine(tmp_path, config, alerter=recorder) as h:
        yield h, recorder


async def test_a_final_failed_ack_alerts_the_stage_and_the_pipeline(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    async with engine(tmp_path, settings()) as (h, rec):
        pid = await h.create(stage(max_retries=1, retry_interval=5))
        sid = (await h.stage(pid)).id
        job = await h.pull_one()
        await h.ack(job.token, is_success=False, error_message="boom")
        await h.wait_stage(pid, "RetryScheduled")
        assert rec.messages == []  # a retry is not a failure yet
        job = await h.pull_one()
        await h.ack(job.token, is_success=False, error_message="boom")
        await h.wait_for(pid, lambda st, _: st == "Failed")
        assert rec.messages == [StageFailed(pid, sid),
                                PipelineFinished(pid, True, f"stage {sid} failed")]


async def test_a_completed_pipeline_is_reported(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    async with engine(tmp_path, settings()) as (h, rec):
        pid = await h.create(stage())
        await h.ack((await h.pull_one()).token, is_success=True)
        await h.wait_for(pid, lambda st, _: st == "Completed")
        assert rec.messages == [PipelineFinished(pid, False, "every stage finished")]


async def test_the_pending_watchdog_is_stuck_then_failed(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    config = settings(stage_pending_timeout=30, safety_sweep_interval=10)
    async with engine(tmp_path, config) as (h, rec):
        pid = await h.create(stage(max_retries=1, retry_interval=5))
        sid = (await h.stage(pid)).id
        await h.wait_stage(pid, "RetryScheduled")
        assert rec.messages == [StageStuck(pid, sid)]
        await h.wait_for(pid, lambda st, _: st == "Failed")
        assert rec.messages[1:] == [StageStuck(pid, sid), StageFailed(pid, sid),
                                    PipelineFinished(pid, True, f"stage {sid} failed")]


async def test_a_poison_job_and_a_time_out_are_stage_failures(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    config = settings(job_lease=60, max_redeliveries=1, stage_pending_timeout=10_000)
    async with engine(tmp_path, config) as (h, rec):
        poison = await h.create(stage(handler="p", max_retries=5), name="poison")
        slow = await h.create(stage(handler="t", time_out=5), name="slow")
        await h.pull_one("p")
        await h.pull_one("t")
        await h.wait_for(slow, lambda st, _: st == "Failed")
        await h.pull_one("p")  # redelivered once, then lost again: a poison job
        await h.wait_for(poison, lambda st, _: st == "Failed")
        failed = [m for m in rec.messages if isinstance(m, StageFailed)]
        assert [m.pipeline_id for m in failed] == [slow, poison]


async def test_a_silent_worker_is_reported_offline(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    config = settings(worker_heartbeat_interval=15, worker_offline_after=45)
    async with engine(tmp_path, config) as (h, rec):
        wid = await h.store.bootstrap_worker(h.app_id, {"workerName": "w", "instanceId": "i"},
                                             "hash", 86400)
        t0 = trio.current_time()
        h.engine.worker_seen(wid)
        assert await rec.next() == WorkerChanged(wid, "offline", "no heartbeat for 45s")
        assert trio.current_time() - t0 == pytest.approx(45, abs=EPS)
