"""The actor system through the Engine (SPEC §3), on virtual time.

Every test runs the real Engine over a real SQLite store that executes inline on the Trio
thread (see `actor_harness`), so `autojump_clock` is exact and the tests can assert the very
second a lease, retry, timeout or heartbeat deadline takes effect. They wait for changes via
the Hub or `wait_all_tasks_blocked`; a `trio.sleep` here only lets virtual time pass in a test
that asserts nothing happens meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from actor_harness import (
    EPS,
    Harness,
    running_engine,
    settings,
    stage,
    statuses,
)
from pipelogiq.actors import engine as engine_module
from pipelogiq.actors.pipeline import HIBERNATE_AFTER, PipelineActor
from pipelogiq.actors.worker_session import WorkerSessionActor
from pipelogiq.broker.memory import MemoryBroker
from pipelogiq.clock import TrioClock
from pipelogiq.domain import Delivered, Job, JobResult, NewPipeline
from pipelogiq.store.sqlite import SqliteStore


def elapsed(since: float) -> float:
    return trio.current_time() - since


# -- dispatch -------------------------------------------------------------------------------


async def test_dispatch_is_event_driven(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A sweep interval far beyond the test: only events can move the pipeline.
    async with running_engine(tmp_path, settings(safety_sweep_interval=10_000)) as h:
        await trio.testing.wait_all_tasks_blocked()  # startup recovery and first sweep done
        t0 = trio.current_time()
        pid = await h.create(stage("one", "a"), stage("two", "b"))
        await trio.testing.wait_all_tasks_blocked()
        status, stages = await h.states(pid)
        assert trio.current_time() == t0
        assert status == "Running"
        assert statuses(stages) == ["Pending", "NotStarted"]
        assert h.engine.broker.depth(h.app_id, "a") == 1

        job = await h.pull_one("a", wait=0)
        assert job.payload["stageName"] == "one" and job.payload["attempt"] == 1
        assert statuses((await h.states(pid))[1]) == ["Running", "NotStarted"]
        await trio.sleep(25)  # virtual: time passes, no event: stage two must not move
        assert statuses((await h.states(pid))[1]) == ["Running", "NotStarted"]

        t1 = trio.current_time()
        outcome = await h.ack(job.token, is_success=True, output="out-1")
        assert (outcome.kind, outcome.status) == ("applied", "Completed")
        await trio.testing.wait_all_tasks_blocked()
        status, stages = await h.states(pid)
        assert trio.current_time() == t1  # dispatched by the ack's event, no time passed
        assert statuses(stages) == ["Completed", "Pending"]
        assert status == "Running"

        job2 = await h.pull_one("b", wait=0)
        assert job2.payload["stageName"] == "two" and job2.payload["input"] == "in-two"
        assert (await h.ack(job2.token, is_success=True)).kind == "applied"
        status, stages = await h.wait_for(pid, lambda st, _: st == "Completed")
        assert statuses(stages) == ["Completed", "Completed"]
        assert trio.current_time() == t1
        doc = await h.store.pipeline_json(pid)
        assert doc is not None and doc["stages"][0]["output"] == "out-1"


async def test_an_ack_tells_its_pipeline_what_changed_and_a_plain_kick_rereads(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_engine(tmp_path, settings(safety_sweep_interval=10_000)) as h:
        reads: list[int] = []
        real = h.store.stage_states

        async def counted(pid: int) -> Any:
            reads.append(pid)
            return await real(pid)

        monkeypatch.setattr(h.store, "stage_states", counted)
        await trio.testing.wait_all_tasks_blocked()
        pid = await h.create(stage("one", "a"), stage("two", "b"), stage("three", "c"))
        await trio.testing.wait_all_tasks_blocked()
        assert reads == [pid]  # a new actor reads its pipeline once

        job = await h.pull_one("a", wait=0)
        reads.clear()
        assert (await h.ack(job.token, is_success=True)).kind == "applied"
        await trio.testing.wait_all_tasks_blocked()
        assert reads == []  # it planned from the acked stage's new state
        assert statuses((await real(pid))[1]) == ["Completed", "Pending", "NotStarted"]

        h.engine.kick(pid)  # anyone else's change says nothing about what changed
        await trio.testing.wait_all_tasks_blocked()
        assert reads == [pid]

        reads.clear()
        for handler in ("b", "c"):
            job = await h.pull_one(handler)
            assert (await h.ack(job.token, is_success=True)).kind == "applied"
        await trio.testing.wait_all_tasks_blocked()
        assert reads == []  # dispatched "three" and finished the pipeline without a read
        status, stages = await real(pid)
        assert status == "Completed" and statuses(stages) == ["Completed"] * 3


# -- retries --------------------------------------------------------------------------------


async def test_failed_attempt_is_retried_after_retry_interval_until_retries_run_out(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings(job_lease=600)) as h:
        pid = await h.create(stage(max_retries=2, retry_interval=10))
        failed_at: float | None = None
        for attempt in (1, 2, 3):
            job = await h.pull_one(wait=3600)
            if failed_at is not None:
                # available again exactly retryInterval after the failure
                assert elapsed(failed_at) == pytest.approx(10, abs=EPS)
            assert job.payload["attempt"] == attempt
            failed_at = trio.current_time()
            outcome = await h.ack(job.token, is_success=False, error_code="E1",
                                  error_message=f"bad {attempt}")
            assert outcome.kind == "applied"
            s = await h.stage(pid)
            if attempt < 3:
                assert outcome.status == "RetryScheduled"
                assert s.status == "RetryScheduled"
                assert s.attempt == attempt + 1
                assert s.retries_used == attempt
                assert s.next_retry_at == pytest.approx(h.clock.now() + 10, abs=EPS)
            else:
                assert outcome.status == "Failed"
        status, stages = await h.wait_for(pid, lambda st, _: st == "Failed")
        s = stages[0]
        assert (s.status, s.attempt, s.retries_used, s.redeliveries) == ("Failed", 3, 2, 0)
        assert s.next_retry_at is None
        logs = await h.logs(pid)
        assert sum(m.startswith("RetryScheduled:") for m in logs) == 2
        assert sum(m.startswith("Failed:") for m in logs) == 1
        assert any("Pipeline Failed" in m for m in await h.pipeline_logs(pid))


# -- long poll ------------------------------------------------------------------------------


async def test_long_poll_on_an_empty_queue_ends_empty_at_its_deadline(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        t0 = trio.current_time()
        assert await h.pull("h", wait=5) == []
        assert elapsed(t0) == pytest.approx(5, abs=EPS)
        t1 = trio.current_time()
        assert await h.pull("h", wait=0) == []
        assert trio.current_time() == t1


async def test_long_poll_returns_as_soon_as_a_job_is_ready(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        got: list[Delivered] = []
        done = trio.Event()

        async def puller() -> None:
            got.extend(await h.pull("h", wait=30))
            done.set()

        h.nursery.start_soon(puller)
        await trio.testing.wait_all_tasks_blocked()  # the waiter is queued
        t0 = trio.current_time()
        pid = await h.create(stage())
        await done.wait()
        assert elapsed(t0) == pytest.approx(0, abs=EPS)
        assert len(got) == 1 and got[0].payload["pipelineId"] == pid
        assert (await h.stage(pid)).status == "Running"


async def test_long_poll_waiters_are_served_in_order(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        got: dict[str, list[Delivered]] = {}

        async def puller(name: str) -> None:
            got[name] = await h.pull("h", wait=30)

        async with trio.open_nursery() as n:
            n.start_soon(puller, "first")
            await trio.testing.wait_all_tasks_blocked()
            n.start_soon(puller, "second")
            await trio.testing.wait_all_tasks_blocked()
            pid = await h.create(stage())
        assert [d.payload["pipelineId"] for d in got["first"]] == [pid]
        assert got["second"] == []  # waited its full 30 s


# -- leases ---------------------------------------------------------------------------------


async def test_expired_lease_is_redelivered_then_failed_as_poison(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(job_lease=60, max_redeliveries=2, stage_pending_timeout=10_000)
    async with running_engine(tmp_path, config) as h:
        pid = await h.create(stage(max_retries=5, retry_interval=1))
        old = await h.pull_one(wait=1)
        assert old.lease_until == pytest.approx(h.clock.now() + 60, abs=EPS)
        for lost in (1, 2):
            t0 = trio.current_time()
            s = await h.wait_stage(pid, "Pending", attempt=lost + 1)
            assert elapsed(t0) == pytest.approx(60, abs=EPS)
            assert (s.redeliveries, s.retries_used) == (lost, 0)  # lost ≠ failed
            assert any("job lease expired without an ack" in m for m in await h.logs(pid))
            # the worker that lost the lease answers late: 409 superseded, nothing applied
            late = await h.ack(old.token, is_success=True, output="late")
            assert late.kind == "conflict" and "superseded" in late.reason
            assert (await h.stage(pid)).status == "Pending"
            old = await h.pull_one(wait=0)
            assert old.payload["attempt"] == lost + 1
        t0 = trio.current_time()
        status, stages = await h.wait_for(pid, lambda st, _: st == "Failed")
        assert elapsed(t0) == pytest.approx(60, abs=EPS)
        s = stages[0]
        assert (s.status, s.attempt, s.redeliveries, s.retries_used) == ("Failed", 3, 2, 0)
        logs = await h.logs(pid)
        assert "poison" in logs[-1]
        assert (await h.ack(old.token, is_success=True)).kind == "conflict"
        doc = await h.store.pipeline_json(pid)
        assert doc is not None and "output" not in doc["stages"][0]


async def test_ack_within_the_lease_is_applied(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings(job_lease=20)) as h:
        pid = await h.create(stage())
        job = await h.pull_one(wait=1)
        await trio.sleep(19)  # virtual: just inside the lease
        assert (await h.ack(job.token, is_success=True, output="ok")).kind == "applied"
        status, stages = await h.wait_for(pid, lambda st, _: st == "Completed")
        assert (stages[0].attempt, stages[0].redeliveries) == (1, 0)


async def test_time_out_fails_the_attempt_and_applies_the_retry_rules(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings(job_lease=60)) as h:
        pid = await h.create(stage(time_out=5, max_retries=1, retry_interval=10))
        job = await h.pull_one(wait=1)
        t0 = trio.current_time()
        assert job.lease_until == pytest.approx(h.clock.now() + 5, abs=EPS)  # capped by timeOut
        assert job.payload["timeoutSeconds"] == 5

        s = await h.wait_stage(pid, "RetryScheduled")
        assert elapsed(t0) == pytest.approx(5, abs=EPS)
        assert (s.attempt, s.retries_used, s.redeliveries) == (2, 1, 0)  # a failure, not a loss
        assert s.next_retry_at == pytest.approx(h.clock.now() + 10, abs=EPS)
        assert any("timed out after 5s (timeOut)" in m for m in await h.logs(pid))
        assert (await h.ack(job.token, is_success=True)).kind == "conflict"

        job2 = await h.pull_one(wait=3600)
        assert elapsed(t0) == pytest.approx(15, abs=EPS)
        assert job2.payload["attempt"] == 2
        status, stages = await h.wait_for(pid, lambda st, _: st == "Failed")
        assert elapsed(t0) == pytest.approx(20, abs=EPS)
        assert (stages[0].status, stages[0].attempt, stages[0].retries_used) == ("Failed", 2, 1)


async def test_extend_cannot_pass_time_out(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings(job_lease=2)) as h:
        pid = await h.create(stage(time_out=5))
        job = await h.pull_one(wait=1)
        start = h.clock.now()
        assert job.lease_until == pytest.approx(start + 2, abs=EPS)
        until = await h.engine.extend(h.app_id, job.token, 60)
        assert until == pytest.approx(start + 5, abs=EPS)
        s = await h.wait_stage(pid, "Failed")
        assert h.clock.now() == pytest.approx(start + 5, abs=EPS)
        assert s.attempt == 1


# -- pending watchdog -----------------------------------------------------------------------


async def test_pending_watchdog_fails_a_stage_no_worker_took(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(stage_pending_timeout=30, safety_sweep_interval=10)
    async with running_engine(tmp_path, config) as h:
        t0 = trio.current_time()
        pid = await h.create(stage())
        status, stages = await h.wait_for(pid, lambda st, _: st == "Failed")
        assert elapsed(t0) == pytest.approx(30, abs=EPS)
        assert (stages[0].status, stages[0].attempt) == ("Failed", 1)
        assert any("no worker took the job within 30s" in m for m in await h.logs(pid))


async def test_pending_watchdog_uses_an_attempt_and_retries(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(stage_pending_timeout=30, safety_sweep_interval=10)
    async with running_engine(tmp_path, config) as h:
        t0 = trio.current_time()
        pid = await h.create(stage(max_retries=1, retry_interval=5))
        s = await h.wait_stage(pid, "RetryScheduled")
        assert elapsed(t0) == pytest.approx(30, abs=EPS)
        assert (s.attempt, s.retries_used) == (2, 1)
        s = await h.wait_stage(pid, "Pending", attempt=2)
        assert elapsed(t0) == pytest.approx(35, abs=EPS)
        status, stages = await h.wait_for(pid, lambda st, _: st == "Failed")
        assert elapsed(t0) == pytest.approx(65, abs=EPS)
        assert (stages[0].attempt, stages[0].retries_used) == (2, 1)


async def test_pending_watchdog_is_on_time_with_a_slow_sweep(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(stage_pending_timeout=30, safety_sweep_interval=60)
    async with running_engine(tmp_path, config) as h:
        await trio.testing.wait_all_tasks_blocked()  # the watchdog sleeps until its next sweep
        t0 = trio.current_time()
        pid = await h.create(stage())
        await h.wait_for(pid, lambda st, _: st == "Failed")
        assert elapsed(t0) == pytest.approx(30, abs=EPS)  # fails at +60 today


# -- worker sessions ------------------------------------------------------------------------


async def _bootstrap(h: Harness, instance: str = "i1") -> str:
    wid = await h.store.bootstrap_worker(
        h.app_id, {"workerName": "w", "instanceId": instance}, f"hash-{instance}", 3600)
    h.engine.worker_seen(wid)
    return wid


async def test_silent_worker_goes_offline_and_its_job_is_redelivered(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(job_lease=600, worker_heartbeat_interval=15, worker_offline_after=45)
    async with running_engine(tmp_path, config) as h:
        t_boot = trio.current_time()
        wid = await _bootstrap(h)
        pid = await h.create(stage())
        job = await h.pull_one(wait=1, worker_id=wid)
        assert job.payload["attempt"] == 1
        s = await h.wait_stage(pid, "Pending", attempt=2)
        assert elapsed(t_boot) == pytest.approx(45, abs=EPS)
        assert (s.redeliveries, s.retries_used) == (1, 0)
        row = await h.store.worker_last_seen(wid)
        assert row is not None and row[0] == "offline"
        assert any("worker went offline" in m for m in await h.logs(pid))
        assert (await h.ack(job.token, is_success=True)).kind == "conflict"

        again = await h.pull_one(wait=0)
        assert again.payload["attempt"] == 2
        assert (await h.ack(again.token, is_success=True)).kind == "applied"
        await h.wait_for(pid, lambda st, _: st == "Completed")
        assert wid not in h.engine.workers  # the session actor left with the worker


async def test_heartbeating_worker_stays_online_and_keeps_its_job(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = settings(job_lease=3600, worker_heartbeat_interval=15, worker_offline_after=45)
    async with running_engine(tmp_path, config) as h:
        wid = await _bootstrap(h)
        pid = await h.create(stage())
        job = await h.pull_one(wait=1, worker_id=wid)
        t0 = trio.current_time()
        beats: list[float] = []

        async def heartbeats(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                while True:
                    await trio.sleep(15)
                    await h.store.heartbeat(wid, {"state": "ready"})
                    h.engine.worker_seen(wid)
                    beats.append(trio.current_time())

        beating = await h.nursery.start(heartbeats)
        await trio.sleep(300)  # virtual: many offline deadlines pass, each pushed forward
        row = await h.store.worker_last_seen(wid)
        assert row is not None and row[0] == "ready"
        s = await h.stage(pid)
        assert (s.status, s.attempt, s.redeliveries) == ("Running", 1, 0)
        assert wid in h.engine.workers
        assert len(beats) >= 19 and elapsed(t0) == pytest.approx(300, abs=EPS)

        beating.cancel()  # now it falls silent: offline 45 s after its last heartbeat
        last = beats[-1]
        s = await h.wait_stage(pid, "Pending", attempt=2)
        assert trio.current_time() - last == pytest.approx(45, abs=EPS)
        assert s.redeliveries == 1
        row = await h.store.worker_last_seen(wid)
        assert row is not None and row[0] == "offline"
        assert (await h.ack(job.token, is_success=True)).kind == "conflict"


# -- acks -----------------------------------------------------------------------------------


async def test_duplicate_ack_is_reported_and_applied_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        pid = await h.create(stage())
        job = await h.pull_one(wait=1)
        first = await h.ack(job.token, is_success=True, output="first")
        second = await h.ack(job.token, is_success=True, output="second")
        third = await h.ack(job.token, is_success=False, error_message="changed my mind")
        assert (first.kind, first.status) == ("applied", "Completed")
        assert second.kind == "duplicate" and third.kind == "duplicate"
        status, stages = await h.wait_for(pid, lambda st, _: st == "Completed")
        assert (stages[0].status, stages[0].attempt) == ("Completed", 1)
        logs = await h.logs(pid)
        assert sum(m.startswith("Completed:") for m in logs) == 1
        doc = await h.store.pipeline_json(pid)
        assert doc is not None and doc["stages"][0]["output"] == "first"


async def test_unknown_token_and_foreign_application_are_not_found(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        pid = await h.create(stage())
        job = await h.pull_one(wait=1)
        assert (await h.ack("no-such-token", is_success=True)).kind == "not_found"
        other = await h.store.create_application("other", None, None)
        foreign = await h.engine.ack(int(other["id"]), job.token, JobResult(is_success=True))
        assert foreign.kind == "not_found"
        assert (await h.stage(pid)).status == "Running"
        assert (await h.ack(job.token, is_success=True)).kind == "applied"


# -- pullers that leave ---------------------------------------------------------------------


async def test_puller_that_left_before_a_job_arrived_takes_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        with trio.move_on_after(3) as scope:
            await h.pull("h", wait=30)
        assert scope.cancelled_caught
        pid = await h.create(stage())
        await trio.testing.wait_all_tasks_blocked()
        assert (await h.stage(pid)).status == "Pending"  # nobody leased it
        job = await h.pull_one(wait=0)
        assert (job.payload["pipelineId"], job.payload["attempt"]) == (pid, 1)


class GatedStore(SqliteStore):
    """Pauses the next `lease` (once armed) until the test opens the gate."""

    def __init__(self, path: str, clock: TrioClock) -> None:
        super().__init__(path, clock, inline=True)
        self.lease_gate: trio.Event | None = None
        self.lease_entered = trio.Event()
        self.sweep_gate: trio.Event | None = None
        self.sweep_entered = trio.Event()

    async def lease(self, jobs: Sequence[Job], queue: str, worker_id: str | None,
                    lease_seconds: float) -> list[Delivered]:
        gate, self.lease_gate = self.lease_gate, None
        if gate is not None:
            self.lease_entered.set()
            await gate.wait()
        return await super().lease(jobs, queue, worker_id, lease_seconds)

    async def idle_active_pipeline_ids(self) -> list[int]:
        gate, self.sweep_gate = self.sweep_gate, None
        if gate is not None:
            self.sweep_entered.set()
            await gate.wait()
        return await super().idle_active_pipeline_ids()


async def test_puller_that_left_while_its_job_was_being_leased_loses_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    stores: list[GatedStore] = []

    def factory(path: str, clock: TrioClock) -> SqliteStore:
        stores.append(GatedStore(path, clock))
        return stores[0]

    async with running_engine(tmp_path, settings(), store_factory=factory) as h:
        store = stores[0]
        store.lease_gate = gate = trio.Event()
        with trio.CancelScope() as scope:
            async def leave_when_leasing() -> None:
                await store.lease_entered.wait()
                scope.cancel()

            h.nursery.start_soon(leave_when_leasing)
            pid = await h.create(stage())
            await h.pull("h", wait=30)
        assert scope.cancelled_caught
        t0 = trio.current_time()
        gate.set()  # the lease is written now, for a puller that has gone
        job = await h.pull_one(wait=30)
        assert trio.current_time() == t0
        assert (job.payload["pipelineId"], job.payload["attempt"]) == (pid, 1)
        s = await h.stage(pid)
        assert (s.status, s.attempt, s.redeliveries) == ("Running", 1, 0)
        assert any("the puller left before the job reached it" in m for m in await h.logs(pid))


async def test_puller_cancelled_right_after_its_job_was_leased_loses_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings(job_lease=600)) as h:
        pid = await h.create(stage())
        await trio.testing.wait_all_tasks_blocked()
        assert (await h.stage(pid)).status == "Pending"
        got: list[Delivered] = []
        changes = h.engine.hub.subscribe()
        async with changes, trio.open_nursery() as n:
            scope = trio.CancelScope()

            async def puller() -> None:
                with scope:
                    got.extend(await h.pull("h", wait=30))

            n.start_soon(puller)
            assert await changes.receive() == pid  # the delivery's notification
            scope.cancel()  # the HTTP client hung up just now
        if got:  # the puller still received it: nothing lost either way
            return
        t0 = trio.current_time()
        jobs = await h.pull("h", wait=30)
        assert [d.payload["pipelineId"] for d in jobs] == [pid]
        assert elapsed(t0) == pytest.approx(0, abs=EPS)


# -- handler queue --------------------------------------------------------------------------


class CountingBroker(MemoryBroker):
    """Counts `wait_ready` calls; after `limit` it blocks, so a busy loop cannot hang a test."""

    def __init__(self, limit: int = 2000) -> None:
        super().__init__()
        self.wait_calls = 0
        self.limit = limit

    async def wait_ready(self, application_id: int, handler: str) -> None:
        self.wait_calls += 1
        if self.wait_calls > self.limit:
            await trio.sleep_forever()
        await super().wait_ready(application_id, handler)


async def test_handler_queue_does_not_spin_when_jobs_wait_without_pullers(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    broker = CountingBroker()
    async with running_engine(tmp_path, settings(), broker=broker) as h:
        pid = await h.create(stage("one", "h"), stage("two", "h"))
        # Regression (fixed in f37b557): the queue actor busy-looped on broker.wait_ready
        # while a job was queued and nobody waited.
        job = await h.pull_one(wait=1)  # the queue actor for "h" now exists, without waiters
        await trio.testing.wait_all_tasks_blocked()
        before = broker.wait_calls
        assert (await h.ack(job.token, is_success=True)).kind == "applied"
        await trio.testing.wait_all_tasks_blocked()  # stage two is queued; nobody pulls
        assert (await h.stage(pid, 1)).status == "Pending"
        spins = broker.wait_calls - before
        job2 = await h.pull_one(wait=0)
        assert job2.payload["stageName"] == "two"
        assert spins <= 5, f"wait_ready called {spins} times with no puller waiting"


# -- watchdog -------------------------------------------------------------------------------


async def test_lease_granted_during_a_sweep_still_expires_on_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    stores: list[GatedStore] = []

    def factory(path: str, clock: TrioClock) -> SqliteStore:
        stores.append(GatedStore(path, clock))
        return stores[0]

    config = settings(job_lease=5, safety_sweep_interval=10, stage_pending_timeout=10_000)
    async with running_engine(tmp_path, config, store_factory=factory) as h:
        store = stores[0]
        await trio.testing.wait_all_tasks_blocked()  # first sweep done; next one at +10
        store.sweep_gate = gate = trio.Event()
        await store.sweep_entered.wait()  # the watchdog is inside its sweep
        pid = await h.create(stage())
        await h.pull_one(wait=1)
        t0 = trio.current_time()
        gate.set()
        await h.wait_stage(pid, "Pending", attempt=2)
        assert elapsed(t0) == pytest.approx(5, abs=EPS)  # reclaimed at +10 today


# -- actors that leave ----------------------------------------------------------------------

RESPAWN_LIMIT = 50  # incarnations; past it the counting actor blocks instead of looping on


def count_pipeline_actors(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []

    class CountingPipelineActor(PipelineActor):
        async def run(self) -> None:
            runs.append(self.pipeline_id)
            if len(runs) > RESPAWN_LIMIT:
                await trio.sleep_forever()
            await super().run()

    monkeypatch.setattr(engine_module, "PipelineActor", CountingPipelineActor)
    return runs


def count_worker_sessions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    runs: list[str] = []

    class CountingWorkerSession(WorkerSessionActor):
        async def run(self) -> None:
            runs.append(self.worker_id)
            if len(runs) > RESPAWN_LIMIT:
                await trio.sleep_forever()
            await super().run()

    monkeypatch.setattr(engine_module, "WorkerSessionActor", CountingWorkerSession)
    return runs


async def test_pipeline_actor_hibernates_and_is_rebuilt_by_the_next_kick(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_pipeline_actors(monkeypatch)
    async with running_engine(tmp_path, settings(job_lease=3600)) as h:
        pid = await h.create(stage("one", max_retries=1, retry_interval=10), stage("two"))
        job = await h.pull_one(wait=1)
        assert pid in h.engine.pipelines
        await trio.sleep(HIBERNATE_AFTER + 1)  # waiting only on a worker: the actor leaves
        assert pid not in h.engine.pipelines
        assert runs == [pid]
        # A failed attempt with a retry left: a timer, which only the actor keeps.
        outcome = await h.ack(job.token, is_success=False, error_code="E")
        assert outcome.status == "RetryScheduled" and outcome.follow is None
        s = await h.wait_stage(pid, "Pending", attempt=2)
        assert s.retries_used == 1
        assert runs == [pid, pid]  # rebuilt from the store by the ack's kick


async def test_an_ack_dispatches_the_next_stage_in_its_own_transaction_without_the_actor(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_pipeline_actors(monkeypatch)
    async with running_engine(tmp_path, settings(job_lease=3600)) as h:
        pid, created, _ = await h.engine.create_pipeline(NewPipeline(
            application_id=h.app_id, name="p", stages=(stage("one"), stage("two"))))
        assert created
        # The creation's transaction dispatched the first stage: no actor was needed.
        assert (await h.stage(pid)).status == "Pending"
        assert runs == []
        job = await h.pull_one(wait=1)
        outcome = await h.ack(job.token, is_success=True, output="o1")
        assert outcome.follow is not None and outcome.follow.job is not None
        assert outcome.follow.settled
        status, stages = await h.states(pid)
        assert [s.status for s in stages] == ["Completed", "Pending"]
        assert runs == []
        assert any(m.startswith("Pending: ready") for m in await h.logs(pid, index=1))
        job = await h.pull_one(wait=1)
        assert job.payload["stageId"] == stages[1].id
        outcome = await h.ack(job.token, is_success=True)
        assert outcome.follow is not None and outcome.follow.finished == (
            "Completed", "every stage finished")
        status, _ = await h.states(pid)
        assert status == "Completed"
        assert runs == []


async def test_kick_that_finishes_a_hibernated_pipeline_does_not_respawn_forever(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_pipeline_actors(monkeypatch)
    async with running_engine(tmp_path, settings(job_lease=3600)) as h:
        pid = await h.create(stage())
        job = await h.pull_one(wait=1)
        await trio.sleep(HIBERNATE_AFTER + 1)  # a stage longer than HIBERNATE_AFTER
        assert pid not in h.engine.pipelines
        before = len(runs)
        # A result applied without the next step (an AMQP result, an API replica's ack):
        # the kick rebuilds the actor, which finishes the pipeline.
        outcome = await h.store.ack(h.app_id, job.token, JobResult(is_success=True))
        assert outcome.kind == "applied" and outcome.state is not None
        h.engine.kick(pid, (outcome.state,))
        await h.wait_for(pid, lambda st, _: st == "Completed")
        await trio.testing.wait_all_tasks_blocked()
        assert len(runs) - before == 1, f"{len(runs) - before} incarnations for one kick"


async def test_seen_for_an_offline_worker_does_not_respawn_forever(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_worker_sessions(monkeypatch)
    config = settings(worker_heartbeat_interval=15, worker_offline_after=45)
    async with running_engine(tmp_path, config) as h:
        wid = await _bootstrap(h)
        await trio.sleep(46)
        row = await h.store.worker_last_seen(wid)
        assert row is not None and row[0] == "offline"
        assert wid not in h.engine.workers
        before = len(runs)
        h.engine.worker_seen(wid)  # what /workers/events does for this worker
        await trio.testing.wait_all_tasks_blocked()
        assert len(runs) - before == 1, f"{len(runs) - before} incarnations for one Seen"


async def test_a_failed_lease_puts_the_taken_jobs_back_on_the_queue(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_engine(tmp_path, settings()) as h:
        pid = await h.create(stage())
        await h.wait_stage(pid, "Pending")
        real_lease = h.store.lease
        failures: list[int] = []

        async def failing_once(*args: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise RuntimeError("database hiccup")
            return await real_lease(*args, **kwargs)

        h.store.lease = failing_once  # type: ignore[method-assign]
        assert await h.pull("h", wait=1) == []  # the crashed actor answered its waiter
        assert failures == [1]
        job = await h.pull_one("h", wait=5)  # the restarted actor finds the job
        assert job.payload["pipelineId"] == pid and job.payload["attempt"] == 1


async def test_a_crashed_pipeline_actor_is_restarted_and_counted(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        real = h.store.dispatch
        crashes = []

        async def flaky(stage_id: int, reason: str) -> Any:
            if not crashes:  # only the pipeline actor dispatches
                crashes.append(stage_id)
                raise RuntimeError("a transient store failure")
            return await real(stage_id, reason)

        h.store.dispatch = flaky  # type: ignore[method-assign]
        pid = await h.create(stage())
        await h.wait_stage(pid, "Pending")  # restarted, it dispatched
        assert len(crashes) == 1
        counter = h.engine.metrics.supervisor_restarts_total.labels(kind="pipeline")
        assert counter._value.get() == 1
