"""`Engine`: the actor tree of one process and the operations the HTTP layer asks of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from pipelogiq.actors.handler_queue import HandlerQueueActor
from pipelogiq.actors.hub import Hub
from pipelogiq.actors.messages import Kick, Pull, Seen
from pipelogiq.actors.pipeline import PipelineActor
from pipelogiq.actors.registry import Registry
from pipelogiq.actors.watchdog import Watchdog
from pipelogiq.actors.worker_session import WorkerSessionActor
from pipelogiq.alerts import AlertEmitter
from pipelogiq.broker.base import Broker, queue_name
from pipelogiq.clock import Clock
from pipelogiq.config import Settings
from pipelogiq.domain import Delivered, Job, JobResult, NewPipeline, StageState, StageStatus
from pipelogiq.observability.metrics import Metrics
from pipelogiq.observability.tracing import TraceEmitter
from pipelogiq.store.base import AckOutcome, FollowOn, Reclaimed, Trigger
from pipelogiq.store.interface import Store

if TYPE_CHECKING:
    from pipelogiq.actors.cluster import Cluster, Role
    from pipelogiq.broker.amqp_messages import StageResultMessage

log = logging.getLogger("pipelogiq.engine")

PULL_ANSWER_MARGIN = 5.0


class Engine:
    """`role` says which part of the work this process does: `serve` all of it; `api` the
    job path of HTTP workers (handler queues, acks, worker sessions) and wakes the engines
    for the rest; `engine` the pipelines, recovery, watchdogs and AMQP consumers. A `cluster`
    (RabbitMQ mode) links the process to the other replicas."""

    def __init__(
        self, store: Store, broker: Broker, hub: Hub, clock: Clock, settings: Settings,
        metrics: Metrics | None = None, alerter: AlertEmitter | None = None,
        role: Role = "serve", cluster: Cluster | None = None,
        tracer: TraceEmitter | None = None,
    ) -> None:
        if role != "serve" and cluster is None:
            raise ValueError(f"the {role} role needs the cluster link (RabbitMQ)")
        self.role = role
        self.cluster = cluster
        self.metrics = metrics or Metrics()
        self.alerter = alerter or AlertEmitter()  # the base drops alerts (no alerter wired)
        self.tracer = tracer or TraceEmitter()  # the base exports nothing (no tracer wired)
        self.store = store
        self.broker = broker
        self.hub = hub
        self.clock = clock
        self.settings = settings
        self.watchdog = Watchdog(self)
        self.intake_closed = trio.Event()
        self.pipelines: Registry[int, Kick]
        self.queues: Registry[tuple[int, str], Pull]
        self.workers: Registry[str, Seen]

    async def run(self, *, task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED) -> None:
        """Owns every actor of this process's role and its cluster link. `started()` reports
        the engine once the link's consumers are subscribed and recovery has re-published what
        a previous run left `Pending`. Ends when cancelled."""
        async with trio.open_nursery() as nursery:
            self.pipelines = Registry(
                "pipeline", lambda k, inbox: PipelineActor(k, inbox, self).run(), nursery,
                on_restart=self._restarted("pipeline"))
            self.queues = Registry(
                "queue", lambda k, inbox: HandlerQueueActor(k, inbox, self).run(), nursery,
                on_restart=self._restarted("queue"))
            self.workers = Registry(
                "worker", lambda k, inbox: WorkerSessionActor(k, inbox, self).run(), nursery,
                on_restart=self._restarted("worker"))
            if self.cluster is not None:
                await nursery.start(self.cluster.run, self)
            if self.role != "api":
                await self.recover()
                await nursery.start(self.watchdog.run)
            task_status.started(self)

    # -- recovery and sweeps --------------------------------------------------------------
    async def recover(self) -> None:
        """After a restart: jobs of `Pending` stages that are not on their queues go back (the
        in-process broker starts empty), idle pipelines are re-evaluated, live workers are
        watched again. `Running` stages keep their leases; the watchdog reclaims them if they
        lapse."""
        pending = await self.broker.unqueued(await self.store.pending_jobs())
        await self.publish(pending)
        for worker_id, _ in await self.store.live_workers():
            self.workers.offer(worker_id, Seen(0.0))
        await self.sweep()
        log.info("recovery: %d pending job(s) re-published", len(pending))

    async def sweep(self) -> None:
        """The safety sweep: pipelines a lost wake-up left idle, jobs a lost publish left
        unqueued (another engine died between its commit and its publish)."""
        for pid in await self.store.idle_active_pipeline_ids():
            if pid not in self.pipelines:
                self.pipelines.offer(pid, Kick())
        try:
            stale = await self.store.stale_pending_jobs(2 * self.settings.safety_sweep_interval)
            lost = await self.broker.unqueued(stale) if stale else []
        except Exception as exc:  # the broker is away: the next sweep looks again
            log.warning("sweep: cannot check the queues (%r)", exc)
            lost = []
        if lost:
            log.warning("sweep: %d pending job(s) were not on their queues; publishing them",
                        len(lost))
            await self.publish(lost)
        if self.role == "engine":  # workers that bootstrapped on an API replica meanwhile
            for worker_id, _ in await self.store.live_workers():
                if worker_id not in self.workers:
                    self.workers.offer(worker_id, Seen(0.0))

    # -- notifications --------------------------------------------------------------------
    def queue_name(self, application_id: int, handler: str) -> str:
        s = self.settings
        return queue_name(s.rabbit_name_prefix, s.app_id, application_id, handler)

    def kick(self, pipeline_id: int, states: Sequence[StageState] = ()) -> None:
        """The pipeline may have a next step: its actor looks (on an API replica: an engine's
        actor, woken through the cluster). `states`: the stages that changed, as committed
        (the actor then plans from what it knows instead of re-reading the pipeline)."""
        if self.role == "api":
            assert self.cluster is not None
            self.cluster.wakes.add(pipeline_id)
        else:
            self.kick_here(pipeline_id, states)

    def kick_here(self, pipeline_id: int, states: Sequence[StageState] = ()) -> None:
        self.pipelines.offer(pipeline_id, Kick(tuple(states)))

    async def create_pipeline(self, new: NewPipeline) -> tuple[int, bool, dict[str, Any]]:
        """Store a new pipeline (the same idempotency key again: the first one); returns its
        id, whether it is new, and its pipeline JSON. A process that runs the pipelines itself
        (`serve`) dispatches its first stage in the same transaction when no policy may act on
        it; otherwise the pipeline's actor takes the first step."""
        if self.role != "serve":
            pid, created = await self.store.create_pipeline(new)
            follow = None
            doc = await self.store.pipeline_json(pid)
            assert doc is not None
        else:
            pid, created, follow, doc = await self.store.create_and_start(new)
        if created:
            job = self._followed(pid, follow)
            if job is not None:
                await self.publish([job])
        return pid, created, doc

    def _followed(self, pipeline_id: int, follow: FollowOn | None) -> Job | None:
        """A commit changed `pipeline_id` and perhaps took its next step (`follow`): announce
        it, wake the pipeline's actor when it has more to do or holds stages that are no
        longer current, and return the dispatched job (the caller publishes it)."""
        if follow is None:
            self.kick(pipeline_id)
            self.changed(pipeline_id)
            return None
        if follow.finished is not None:
            self.pipeline_finished(pipeline_id, *follow.finished)
        if not follow.settled or (pipeline_id in self.pipelines and follow.finished is None):
            self.kick(pipeline_id, follow.stages)
        self.changed(pipeline_id)  # committed: announce before publishing
        if follow.job is not None:
            self.metrics.stage_status_updated_total.inc()
        return follow.job

    def pipeline_finished(self, pipeline_id: int, status: str, reason: str) -> None:
        """The commit that finished `pipeline_id` is in: log, alert, end its trace."""
        log.info("pipeline %s %s: %s", pipeline_id, status, reason)
        self.alerter.pipeline_finished(pipeline_id, status, reason)
        self.tracer.pipeline_finished(pipeline_id)

    def changed(self, pipeline_id: int) -> None:
        self.hub.pipeline_changed(pipeline_id)
        if self.cluster is not None:
            self.cluster.updates.add(pipeline_id)

    def dispatched(self, jobs: Sequence[Job]) -> None:
        """Jobs went (back) on a queue: the pending watchdog must see their deadline."""
        if jobs:
            self.watchdog.note_deadline(self.clock.now() + self.settings.stage_pending_timeout)

    def delivered(self, jobs: Sequence[Delivered]) -> None:
        self.watchdog.note_deadline(min(d.lease_until for d in jobs))
        self.metrics.stage_status_updated_total.inc(len(jobs))
        for d in jobs:
            if d.ready_at is not None and d.delivered_at is not None:
                self.metrics.dispatch_latency_seconds.observe(max(0.0, d.delivered_at - d.ready_at))
            self.changed(d.payload["pipelineId"])

    def dead_lettered(self, queue: str, message_id: str | None, reason: str) -> None:
        """A broker message went to its `.dlq` (RabbitMQ mode): operators hear of it."""
        self.alerter.message_deadlettered(queue, message_id, reason)

    def worker_seen(self, worker_id: str) -> None:
        self.workers.offer(worker_id, Seen(self.clock.now()))

    async def publish(self, jobs: Sequence[Job]) -> None:
        await self.broker.publish(await self._with_payloads(jobs))
        self.metrics.stage_published_total.inc(len(jobs))
        self.dispatched(jobs)

    async def put_back(self, jobs: Sequence[Job]) -> None:
        """Jobs whose messages are settled but whose puller never got them: back on their
        queues (in front, where the broker can)."""
        await self.broker.put_back(await self._with_payloads(jobs))
        self.dispatched(jobs)

    async def _with_payloads(self, jobs: Sequence[Job]) -> Sequence[Job]:
        """AMQP-direct workers read the StageNext payload from the message itself."""
        if not jobs or not self.broker.wants_payloads:
            return jobs
        return await self.store.job_payloads(jobs)

    async def apply_reclaimed(self, rec: Reclaimed) -> None:
        self.metrics.stage_status_updated_total.inc(len(rec.pipeline_ids))
        for ref in rec.stuck:
            self.alerter.pipeline_stuck(ref.pipeline_id, ref.stage_id)
        for ref in rec.failed:
            self.alerter.stage_failed(ref.pipeline_id, ref.stage_id)
        for pid in rec.pipeline_ids:  # committed: announce before publishing
            self.kick(pid)
            self.changed(pid)
        if rec.jobs:
            await self.publish(rec.jobs)

    async def worker_lost(self, worker_id: str, reason: str) -> None:
        rec = await self.store.reclaim_worker(worker_id, self.settings.max_redeliveries, reason)
        await self.apply_reclaimed(rec)

    def close_intake(self) -> None:
        """Shutdown begins: long polls are answered now (204) instead of at their deadline,
        and new ones return at once, so HTTP servers can drain quickly."""
        self.intake_closed.set()

    # -- the job path ---------------------------------------------------------------------
    async def pull(
        self, application_id: int, handler: str, max_jobs: int, wait: float,
        worker_id: str | None,
    ) -> list[Delivered]:
        """Long poll: jobs as soon as one is ready, or [] when `wait` seconds pass."""
        if self.intake_closed.is_set():
            return []
        send, recv = trio.open_memory_channel[list[Delivered]](1)
        waiter = Pull(max_jobs, trio.current_time() + wait, worker_id, send)
        try:
            await self.queues.send((application_id, handler), waiter)
            # The actor answers by the deadline; the margin only guards against one that
            # crashed for good with this waiter queued.
            with trio.move_on_at(waiter.deadline + PULL_ANSWER_MARGIN):
                return await recv.receive()
            waiter.leave()
            return []
        except trio.Cancelled:
            waiter.leave()
            await self._return_unreceived(recv)
            raise
        finally:
            recv.close()

    async def _return_unreceived(self, recv: trio.MemoryReceiveChannel[list[Delivered]]) -> None:
        try:
            jobs = recv.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return
        with trio.CancelScope(shield=True):
            await self.give_back(jobs)

    async def give_back(self, jobs: Sequence[Delivered]) -> None:
        """Deliveries nobody received: their stages go back to `Pending`, jobs to the queue."""
        back = await self.store.return_leases([d.token for d in jobs])
        await self.put_back(back)
        for d in jobs:
            self.changed(d.payload["pipelineId"])

    async def ack(self, application_id: int, token: str, result: JobResult) -> AckOutcome:
        return (await self.ack_many(application_id, [(token, result)]))[0]

    async def ack_many(self, application_id: int,
                       items: Sequence[tuple[str, JobResult]]) -> list[AckOutcome]:
        """Apply an HTTP worker's results (one transaction for all); where this process runs
        the pipelines (`serve`), each pipeline's next step goes in the same transaction
        (`Engine._followed`), and the jobs it dispatched are published together."""
        outcomes = await self.store.ack_many(application_id, items,
                                             follow=self.role == "serve")
        jobs = []
        for (_, result), outcome in zip(items, outcomes, strict=True):
            self._result_applied(outcome, result)
            if outcome.follow is not None and outcome.pipeline_id is not None:
                job = self._followed(outcome.pipeline_id, outcome.follow)
                if job is not None:
                    jobs.append(job)
        if jobs:
            await self.publish(jobs)
        return outcomes

    async def amqp_result(self, msg: StageResultMessage) -> AckOutcome:
        """A `StageResult` of an AMQP-direct worker (no token: SPEC §3.5)."""
        outcome = await self.store.apply_amqp_result(msg.stage_id, msg.result, msg.attempt)
        self._result_applied(outcome, msg.result)
        return outcome

    async def amqp_running(self, stage_id: int) -> AckOutcome:
        """`StageSetStatus Running` of an AMQP-direct worker (SPEC §3.4)."""
        outcome = await self.store.mark_running(stage_id, None)
        if outcome.kind == "applied" and outcome.pipeline_id is not None:
            self.metrics.stage_status_updated_total.inc()
            self.changed(outcome.pipeline_id)
        return outcome

    def _result_applied(self, outcome: AckOutcome, result: JobResult) -> None:
        if outcome.kind == "applied":
            self.metrics.stage_result_processed_total.inc()
            if outcome.attempt_seconds is not None and outcome.handler is not None:
                self.metrics.stage_duration_seconds.labels(outcome.handler).observe(
                    outcome.attempt_seconds)
            if not result.is_success:
                self.metrics.stage_result_failed_total.inc()
        self._settled(outcome)

    async def requeue(self, application_id: int, token: str) -> AckOutcome:
        outcome = await self.store.requeue(application_id, token, self.settings.max_redeliveries)
        self._settled(outcome)  # committed: announce before publishing
        if outcome.republish is not None:
            await self.publish([outcome.republish])
        return outcome

    def _settled(self, outcome: AckOutcome) -> None:
        if outcome.kind == "applied" and outcome.pipeline_id is not None:
            self.metrics.stage_status_updated_total.inc()
            if outcome.follow is None:  # else `ack` announces it with its next step
                self.kick(outcome.pipeline_id, () if outcome.state is None else (outcome.state,))
                self.changed(outcome.pipeline_id)
            if outcome.status == StageStatus.FAILED and outcome.stage_id is not None:
                self.alerter.stage_failed(outcome.pipeline_id, outcome.stage_id)
        for pipeline_id in outcome.wake:  # a circuit breaker closed: its held stages may go
            self.kick(pipeline_id)
        self.policies_acted(outcome.triggers)

    def policies_acted(self, triggers: Sequence[Trigger]) -> None:
        for t in triggers:
            self.alerter.policy_triggered(t.application_id, t.policy_name, t.stage_id, t.what,
                                          policy_id=t.policy_id)

    def _restarted(self, kind: str) -> Callable[[str], None]:
        counter = self.metrics.supervisor_restarts_total.labels(kind=kind)
        return lambda _name: counter.inc()

    async def release_held(self, policy_id: int) -> None:
        """A policy changed: stages it holds back are looked at again now (a paused, disabled
        or retargeted policy lets them go). Other replicas catch up at their safety sweep."""
        for pipeline_id in await self.store.held_pipelines(policy_id):
            self.kick(pipeline_id)

    async def extend(self, application_id: int, token: str, seconds: float) -> float:
        until = await self.store.extend(application_id, token, seconds)
        self.watchdog.note_deadline(until)
        return until

    def stats(self) -> dict[str, Any]:  # actors of this process
        return {"pipelines": len(self.pipelines), "queues": len(self.queues),
                "workers": len(self.workers)}
