"""Job workers: pull stage jobs over HTTP, run handlers, ack the results.

:class:`AsyncWorker` is the core (``await worker.run()`` under Trio or asyncio);
:class:`Worker` wraps it for plain code with a blocking :meth:`Worker.run` that also stops
gracefully on SIGINT/SIGTERM.

Example::

    from pipelogiq.sdk import Job, Result, Worker

    worker = Worker("http://127.0.0.1:8081", api_key, "billing-worker")

    @worker.handler("charge")
    def charge(job: Job) -> Result:
        job.log("Information", f"charging for order {job.input}")
        return Result(output={"charged": True}, context={"chargeId": "ch_1"})

    worker.run()

The flow: bootstrap (``/workers/bootstrap``) → one long-poll loop per handler
(``/jobs/pull``), pulling while a concurrency slot is free (or, for quick jobs, a few ahead:
``prefetch``) → each job in its own task,
its lease extended while it runs (``/jobs/extend``) → ``/jobs/ack``. A heartbeat runs alongside.
A 401 re-bootstraps; network errors and 5xx back off and retry. :meth:`AsyncWorker.stop` stops
pulling, hands back jobs that never started, waits up to ``grace_period`` for running ones and
says goodbye (``/workers/shutdown``).
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import attrs
import httpx
from anyio.abc import TaskGroup, TaskStatus

from ._acks import AckAnswer, AckBatcher
from ._errors import AuthError, HandlerError, PipelogiqError
from ._session import WorkerSession, is_transient
from ._slots import Slots
from ._wire import SDK_VERSION, USER_AGENT, JSONDict, error_message, json_body, parse_time
from .job import Job, failure_ack, iter_messages, rejected_ack, requeue_ack, success_ack

__all__ = ["AsyncWorker", "Worker"]

log = logging.getLogger("pipelogiq.sdk.worker")

HandlerFn = Callable[[Job], Any]
H = TypeVar("H", bound=HandlerFn)

_SETTLE_TIMEOUT = 5.0  # seconds for a last ack/goodbye while shutting down
# The automatic prefetch pulls ahead only while jobs take less than this on average (seconds),
# and then AUTO_AHEAD times `concurrency` jobs: a worker holds up to 4x its concurrency, as a
# Celery worker does by default (its prefetch multiplier); fewer, fuller pulls.
PREFETCH_BELOW = 1.0
AUTO_AHEAD = 3


def default_instance_id() -> str:
    """``hostname-pid-xxxxxxxx``: unique per process, stable for one worker object."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _is_async(fn: HandlerFn) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    )


@attrs.frozen
class _Handler:
    fn: HandlerFn
    is_async: bool


class AsyncWorker:
    """A worker that runs under Trio or asyncio: register handlers, then ``await run()``.

    Args:
        base_url: the external API, e.g. ``http://127.0.0.1:8081``.
        api_key: the application API key (``X-API-Key``), used to bootstrap.
        worker_name: the worker's name shown on the dashboard.
        instance_id: identifies this process; re-bootstraps with it keep the worker id.
            Default: ``hostname-pid-<random>``.
        concurrency: how many jobs run at once (across all handlers).
        prefetch: how many jobs may be pulled before a slot is free for them (they wait in
            the worker, their leases kept): fewer, fuller pulls when jobs are short. ``None``
            (the default) decides by itself: ``AUTO_AHEAD * concurrency`` jobs ahead while jobs
            finish in under ``PREFETCH_BELOW`` seconds on average, none once they take longer,
            so a slow job never keeps others waiting here that another worker could run.
            ``0``: never.
        wait_seconds: long-poll wait of each ``/jobs/pull`` (the server caps it, 30 s default).
        extend_leases: extend a job's lease while it is held (``/jobs/extend``).
        lease_seconds: the lease the server gives on pull (its ``JOB_LEASE``); the first
            extension happens after half of it. Later ones follow the ``leaseUntil`` answers.
        grace_period: on stop, how long running jobs may finish before they are cancelled
            and handed back.
        heartbeat_interval: overrides the ``heartbeat.intervalSec`` of the bootstrap answer.
        backoff_base, backoff_max: exponential backoff (seconds) after transient failures.
        ack_attempts: how many times an ack is tried on network errors / 5xx.
        http_timeout: timeout (seconds) of each HTTP call, added to ``wait_seconds`` for pulls.
        transport: an ``httpx.AsyncBaseTransport`` to use instead of the network (tests).

    ``ready`` is set after the first bootstrap; ``jobs_processed`` and ``jobs_failed`` count
    jobs whose handler finished (``jobs_failed``: those reported as failed). A worker object
    runs once.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        worker_name: str,
        *,
        instance_id: str | None = None,
        concurrency: int = 4,
        prefetch: int | None = None,
        wait_seconds: int = 20,
        extend_leases: bool = True,
        lease_seconds: float = 60.0,
        grace_period: float = 30.0,
        worker_version: str = "0.0.0",
        environment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        heartbeat_interval: float | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 5.0,
        ack_attempts: int = 5,
        http_timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if wait_seconds < 0:
            raise ValueError("wait_seconds must not be negative")
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must not be negative")
        self.base_url = base_url
        self.worker_name = worker_name
        self.instance_id = instance_id or default_instance_id()
        self.concurrency = concurrency
        self.prefetch = prefetch
        self._job_seconds: float | None = None  # moving average of handler run times
        self.jobs_processed = 0
        self.jobs_failed = 0
        self._ready: anyio.Event | None = None
        self._api_key = api_key
        self._wait_seconds = wait_seconds
        self._extend_leases = extend_leases
        self._lease_seconds = lease_seconds
        self._grace_period = grace_period
        self._worker_version = worker_version
        self._environment = environment
        self._metadata = dict(metadata) if metadata else None
        self._heartbeat_interval = heartbeat_interval
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._ack_attempts = max(1, ack_attempts)
        self._http_timeout = http_timeout
        self._transport = transport
        self._handlers: dict[str, _Handler] = {}
        self._ran = False
        # Events are created by run(), in the event loop that runs the worker.
        self._stop_requested = False
        self._stop_event: anyio.Event | None = None
        self._stop_reason = "stopped"
        self._hb_nudge: anyio.Event | None = None
        self._boot_scope: anyio.CancelScope | None = None
        self._fatal: AuthError | None = None
        self._started_at = 0.0
        self._session: WorkerSession | None = None
        self._slots: Slots | None = None
        self._acks: AckBatcher | None = None
        self._thread_limiter: anyio.CapacityLimiter | None = None

    # -- public API --------------------------------------------------------------------------

    def handler(self, name: str) -> Callable[[H], H]:
        """Decorator registering a sync or async function as the handler ``name``.

        The function receives a :class:`Job` and returns ``None``, a string, any JSON value
        or a :class:`Result`; raising reports a failure. Sync functions run in a worker thread.
        """

        def register(fn: H) -> H:
            self.add_handler(name, fn)
            return fn

        return register

    def add_handler(self, name: str, fn: HandlerFn) -> None:
        """Register ``fn`` as the handler ``name`` (the non-decorator form)."""
        if self._ran:
            raise RuntimeError("register handlers before run()")
        if name in self._handlers:
            raise ValueError(f"handler {name!r} is already registered")
        self._handlers[name] = _Handler(fn, _is_async(fn))

    @property
    def handlers(self) -> list[str]:
        """The registered handler names."""
        return list(self._handlers)

    @property
    def ready(self) -> anyio.Event:
        """Set once the worker has bootstrapped and starts pulling (``await worker.ready.wait()``).

        Created on first use: touch it from the event loop that runs the worker.
        """
        if self._ready is None:
            self._ready = anyio.Event()
        return self._ready

    @property
    def worker_id(self) -> str | None:
        """The worker id given by bootstrap (``None`` before it)."""
        return self._session.worker_id if self._session and self._session.worker_id else None

    @property
    def in_flight(self) -> int:
        """Jobs held right now: pulled and waiting for a slot, or running."""
        return self._slots.in_flight if self._slots else 0

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_requested

    def stop(self, reason: str = "stopped") -> None:
        """Begin a graceful shutdown; :meth:`run` returns when it is complete.

        Call it from the event loop's thread (from another thread, use
        ``anyio.from_thread.run_sync`` or :meth:`Worker.stop`).
        """
        if self._stop_requested:
            return
        self._stop_requested = True
        self._stop_reason = reason
        if self._stop_event is not None:
            self._stop_event.set()
        if self._hb_nudge is not None:
            self._hb_nudge.set()
        if self._boot_scope is not None:
            self._boot_scope.cancel()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bootstrap, then pull and run jobs until :meth:`stop` (or cancellation).

        Works with ``nursery.start(worker.run)`` / ``task_group.start(worker.run)``, which
        return once the worker is bootstrapped. Raises :class:`AuthError` when the API key is
        rejected, and :class:`PipelogiqError` when bootstrap is refused with another 4xx.
        """
        if self._ran:
            raise RuntimeError("an AsyncWorker runs only once; create a new one")
        if not self._handlers:
            raise RuntimeError("register at least one handler before run()")
        self._ran = True
        ready = self.ready
        self._stop_event = anyio.Event()
        self._hb_nudge = anyio.Event()
        if self._stop_requested:
            self._stop_event.set()
        async with httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._http_timeout,
            transport=self._transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        ) as http:
            session = WorkerSession(
                http,
                self._api_key,
                self._bootstrap_body(),
                backoff_base=self._backoff_base,
                backoff_max=self._backoff_max,
            )
            self._session = session
            with anyio.CancelScope() as boot_scope:
                self._boot_scope = boot_scope
                if not self._stop_requested:
                    await session.bootstrap_until_done()
            self._boot_scope = None
            if not session.worker_id:  # stopped before bootstrap completed
                task_status.started()
                return
            self._started_at = anyio.current_time()
            self._slots = Slots(self.concurrency, self.prefetch or 0)
            self._thread_limiter = anyio.CapacityLimiter(self.concurrency)
            ready.set()
            task_status.started()
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._heartbeat_loop)
                    self._acks = AckBatcher(self._post_ack, self.concurrency + (
                        AUTO_AHEAD * self.concurrency if self.prefetch is None
                        else self.prefetch))
                    tg.start_soon(self._acks.run)
                    await self._serve()
                    tg.cancel_scope.cancel()
            finally:
                await self._say_goodbye()
        if self._fatal is not None:
            raise self._fatal

    # -- lifecycle ---------------------------------------------------------------------------

    def _bootstrap_body(self) -> JSONDict:
        body: JSONDict = {
            "workerName": self.worker_name,
            "instanceId": self.instance_id,
            "workerVersion": self._worker_version,
            "sdkVersion": SDK_VERSION,
            "hostName": socket.gethostname(),
            "pid": os.getpid(),
            "supportedHandlers": list(self._handlers),
            "capabilities": {"concurrency": self.concurrency},
        }
        if self._environment is not None:
            body["environment"] = self._environment
        if self._metadata is not None:
            body["metadata"] = self._metadata
        return body

    async def _serve(self) -> None:
        """Pull until stopped, then drain: hand back waiting jobs, give running ones the grace."""
        assert self._slots is not None and self._stop_event is not None
        with anyio.CancelScope() as grace:
            async with anyio.create_task_group() as jobs:
                async with anyio.create_task_group() as pulls:
                    for name in self._handlers:
                        pulls.start_soon(self._pull_loop, name, jobs)
                    await self._stop_event.wait()
                    pulls.cancel_scope.cancel()
                log.info("worker %s draining (%s)", self.worker_id, self._stop_reason)
                self._slots.drain()
                grace.deadline = anyio.current_time() + self._grace_period
        if grace.cancelled_caught:
            log.warning("grace period over: unfinished jobs were cancelled and handed back")

    def _fail(self, exc: AuthError) -> None:
        """The API key was rejected while re-bootstrapping: stop, and make run() raise it."""
        if self._fatal is None:
            self._fatal = exc
            log.error("API key rejected (%s); stopping the worker", exc)
        self.stop(reason=f"API key rejected: {exc.message}")

    async def _say_goodbye(self) -> None:
        """``POST /workers/shutdown`` (best effort, shielded, bounded)."""
        session = self._session
        if session is None or not session.worker_id:
            return
        body = {"workerId": session.worker_id, "reason": self._stop_reason}
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + _SETTLE_TIMEOUT
            try:
                response = await session.post("/workers/shutdown", lambda: body)
                if not response.is_success:
                    log.warning(
                        "shutdown answered %s: %s", response.status_code, error_message(response)
                    )
            except Exception as exc:
                log.warning("shutdown call failed: %s", exc)
        if scope.cancelled_caught:
            log.warning("shutdown call timed out")

    # -- heartbeat ---------------------------------------------------------------------------

    def _heartbeat_body(self) -> JSONDict:
        assert self._session is not None
        return {
            "workerId": self._session.worker_id,
            "state": "draining" if self.stopping else "ready",
            "inFlightJobs": self.in_flight,
            "jobsProcessed": self.jobs_processed,
            "jobsFailed": self.jobs_failed,
            "uptimeSec": int(anyio.current_time() - self._started_at),
        }

    async def _heartbeat_loop(self) -> None:
        assert self._session is not None and self._hb_nudge is not None
        backoff = self._session.backoff()
        while True:
            interval = self._heartbeat_interval or self._session.heartbeat_interval
            if await self._heartbeat():
                backoff.reset()
                delay = interval
            else:
                delay = min(backoff.next_delay(), interval)
            with anyio.move_on_after(delay):
                await self._hb_nudge.wait()
            if self._hb_nudge.is_set():
                self._hb_nudge = anyio.Event()

    async def _heartbeat(self) -> bool:
        assert self._session is not None
        try:
            response = await self._session.post("/workers/heartbeat", self._heartbeat_body)
        except AuthError as exc:
            self._fail(exc)
            return False
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)
            return False
        if not response.is_success:
            log.warning("heartbeat answered %s: %s", response.status_code, error_message(response))
            return False
        return True

    # -- pulling -----------------------------------------------------------------------------

    async def _pull_loop(self, handler: str, jobs: TaskGroup) -> None:
        """Long-poll ``/jobs/pull`` for one handler while slots are free; start each job."""
        assert self._session is not None and self._slots is not None
        backoff = self._session.backoff()
        while True:
            await self._slots.wait_free()
            max_jobs = self._slots.pull_size(len(self._handlers))
            try:
                messages = await self._pull(handler, max_jobs)
            except AuthError as exc:
                self._fail(exc)
                return
            except Exception as exc:
                if is_transient(exc) or isinstance(exc, PipelogiqError):
                    log.warning("pull for %r failed: %s", handler, exc)
                else:
                    log.exception("pull for %r failed", handler)
                await backoff.sleep()
                continue
            backoff.reset()
            for message in messages:
                try:
                    job = Job.from_message(message, handler)
                except ValueError as exc:
                    log.error("ignoring a malformed job: %s", exc)
                    continue
                self._slots.pulled()
                jobs.start_soon(self._run_job, handler, job)

    async def _pull(self, handler: str, max_jobs: int) -> list[Mapping[str, Any]]:
        assert self._session is not None
        session = self._session

        def body() -> JSONDict:
            return {
                "handlerName": handler,
                "waitSeconds": self._wait_seconds,
                "maxJobs": max_jobs,
                "workerId": session.worker_id,
            }

        response = await session.post(
            "/jobs/pull", body, request_timeout=self._wait_seconds + self._http_timeout
        )
        if response.status_code == 204:
            return []
        if response.status_code != 200:
            raise PipelogiqError(response.status_code, error_message(response))
        return list(iter_messages(json_body(response)))

    # -- running a job -----------------------------------------------------------------------

    async def _run_job(self, handler: str, job: Job) -> None:
        """Hold one pulled job: wait for a slot, run it, ack it; keep its lease meanwhile."""
        ack: JSONDict | None = None
        try:
            if not self._extend_leases:  # nothing to run beside the job: no task group
                ack = await self._process(handler, job)
                await self._send_ack(job, ack)
                return
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_lease, job)
                ack = await self._process(handler, job)
                await self._send_ack(job, ack)
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            # Cancelled (grace period over, or run() cancelled): settle the job, shielded.
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + _SETTLE_TIMEOUT
                await self._ack_once(job, ack or requeue_ack(job))
            raise

    async def _process(self, handler: str, job: Job) -> JSONDict:
        """Run the handler once a slot is free; the ack body (a requeue if drained first)."""
        assert self._slots is not None
        if not await self._slots.start():
            return requeue_ack(job)
        started = anyio.current_time()
        try:
            return await self._execute(self._handlers[handler], job)
        finally:
            self._slots.finish()
            self._timed(anyio.current_time() - started)

    def _timed(self, seconds: float) -> None:
        """Fold one handler run time into the average; the automatic prefetch follows it."""
        avg = self._job_seconds
        self._job_seconds = seconds if avg is None else avg + 0.2 * (seconds - avg)
        if self.prefetch is None and self._slots is not None:
            quick = self._job_seconds < PREFETCH_BELOW
            self._slots.set_ahead(AUTO_AHEAD * self.concurrency if quick else 0)

    async def _execute(self, handler: _Handler, job: Job) -> JSONDict:
        try:
            if handler.is_async:
                value = await handler.fn(job)
            else:
                value = await anyio.to_thread.run_sync(
                    handler.fn, job, abandon_on_cancel=True, limiter=self._thread_limiter
                )
                if inspect.isawaitable(value):
                    value = await value
            ack = success_ack(job, value)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            log.warning(
                "handler %r failed on stage %s (attempt %s): %s",
                job.handler,
                job.stage_id,
                job.attempt,
                exc,
                exc_info=None if isinstance(exc, HandlerError) else exc,
            )
            ack = failure_ack(job, exc)
        self.jobs_processed += 1
        if not ack["isSuccess"]:
            self.jobs_failed += 1
        return ack

    async def _keep_lease(self, job: Job) -> None:
        """Extend the job's lease at half its remaining time until cancelled, 404 or 409."""
        assert self._session is not None
        backoff = self._session.backoff()
        retry_cap = max(self._lease_seconds / 4, 0.001)
        delay = self._next_extension(job.lease_until)
        while True:
            await anyio.sleep(delay)
            try:
                response = await self._session.post("/jobs/extend", lambda: {"token": job.token})
            except AuthError as exc:
                self._fail(exc)
                return
            except Exception as exc:
                log.warning("lease extension of stage %s failed: %s", job.stage_id, exc)
                delay = min(backoff.next_delay(), retry_cap)
                continue
            if response.status_code == 200:
                backoff.reset()
                delay = self._next_extension(json_body(response).get("leaseUntil"))
            elif response.status_code in (404, 409):
                log.info(
                    "lease of stage %s not extended (%s): %s",
                    job.stage_id,
                    response.status_code,
                    error_message(response),
                )
                return
            else:
                log.warning(
                    "lease extension of stage %s answered %s", job.stage_id, response.status_code
                )
                delay = min(backoff.next_delay(), retry_cap)

    def _next_extension(self, lease_until: Any) -> float:
        """Seconds until the next extension: half the remaining lease, within sane bounds."""
        half = self._lease_seconds / 2
        until = parse_time(lease_until)
        if until is None:
            return half
        remaining = (until - datetime.now(UTC)).total_seconds()
        return min(half, max(remaining / 2, self._lease_seconds / 10))

    # -- acking ------------------------------------------------------------------------------

    async def _send_ack(self, job: Job, body: JSONDict) -> None:
        """``POST /jobs/ack``, retried on network errors, 401 and 5xx; 404/409 drop the job.

        A result ack refused as malformed (400/413) is replaced by a bare failure ack naming the
        reason (with its own attempts), so the attempt fails visibly instead of waiting for its
        lease to expire.
        """
        assert self._session is not None
        backoff = self._session.backoff()
        fell_back = False
        attempt = 0
        while attempt < self._ack_attempts:
            attempt += 1
            try:
                answer = await self._ack(body)
            except AuthError as exc:
                self._fail(exc)
                return
            except Exception as exc:
                problem = str(exc) or type(exc).__name__
            else:
                status = answer.status_code
                if answer.is_success:
                    return
                problem = f"HTTP {status}: {answer.message}"
                if status in (404, 409):
                    log.warning("ack of stage %s dropped: %s", job.stage_id, problem)
                    return
                if status in (400, 413) and not fell_back and not body.get("requeue"):
                    log.error(
                        "ack of stage %s refused (%s); reporting a failure", job.stage_id, problem
                    )
                    body, fell_back, attempt = rejected_ack(job, problem), True, 0
                    continue
                if status < 500 and status not in (401, 408, 429):
                    log.error("ack of stage %s rejected: %s", job.stage_id, problem)
                    return
            if attempt < self._ack_attempts:
                log.warning("ack of stage %s failed (%s); retrying", job.stage_id, problem)
                await backoff.sleep()
        log.error(
            "giving up acking stage %s after %d attempts; its lease will expire",
            job.stage_id,
            self._ack_attempts,
        )

    async def _ack(self, body: JSONDict) -> AckAnswer:
        """One ack, coalesced with others finishing meanwhile (see `_acks.AckBatcher`)."""
        if self._acks is not None:
            return await self._acks.send(body)
        response = await self._post_ack(body)
        return AckAnswer(response.status_code,
                         "" if response.is_success else error_message(response))

    async def _post_ack(self, body: JSONDict) -> httpx.Response:
        assert self._session is not None
        return await self._session.post("/jobs/ack", partial(dict, body))

    async def _ack_once(self, job: Job, body: JSONDict) -> None:
        """One best-effort ack, used while shutting down."""
        assert self._session is not None
        try:
            response = await self._session.post("/jobs/ack", lambda: body)
            if not response.is_success:
                log.warning("ack of stage %s answered %s", job.stage_id, response.status_code)
        except Exception as exc:
            log.warning("ack of stage %s failed: %s", job.stage_id, exc)


class Worker:
    """Blocking worker for plain code: the same options as :class:`AsyncWorker`, plus
    ``backend`` (``"trio"`` or ``"asyncio"``) and ``handle_signals``.

    :meth:`run` blocks until the worker stops; SIGINT/SIGTERM start a graceful stop (a second
    signal cancels running jobs at once). :meth:`stop` may be called from other threads.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        worker_name: str,
        *,
        instance_id: str | None = None,
        concurrency: int = 4,
        prefetch: int | None = None,
        wait_seconds: int = 20,
        extend_leases: bool = True,
        lease_seconds: float = 60.0,
        grace_period: float = 30.0,
        worker_version: str = "0.0.0",
        environment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        heartbeat_interval: float | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 5.0,
        ack_attempts: int = 5,
        http_timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        backend: str = "trio",
        handle_signals: bool = True,
    ) -> None:
        self.async_worker = AsyncWorker(
            base_url,
            api_key,
            worker_name,
            instance_id=instance_id,
            concurrency=concurrency,
            prefetch=prefetch,
            wait_seconds=wait_seconds,
            extend_leases=extend_leases,
            lease_seconds=lease_seconds,
            grace_period=grace_period,
            worker_version=worker_version,
            environment=environment,
            metadata=metadata,
            heartbeat_interval=heartbeat_interval,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            ack_attempts=ack_attempts,
            http_timeout=http_timeout,
            transport=transport,
        )
        self.backend = backend
        self.handle_signals = handle_signals
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None

    def handler(self, name: str) -> Callable[[H], H]:
        """Decorator registering a handler; see :meth:`AsyncWorker.handler`."""
        return self.async_worker.handler(name)

    def add_handler(self, name: str, fn: HandlerFn) -> None:
        """Register ``fn`` as the handler ``name``."""
        self.async_worker.add_handler(name, fn)

    @property
    def instance_id(self) -> str:
        return self.async_worker.instance_id

    @property
    def worker_id(self) -> str | None:
        return self.async_worker.worker_id

    @property
    def jobs_processed(self) -> int:
        return self.async_worker.jobs_processed

    @property
    def jobs_failed(self) -> int:
        return self.async_worker.jobs_failed

    def run(self) -> None:
        """Run the worker until it is stopped (blocks; starts its own event loop)."""
        anyio.run(self._main, backend=self.backend)

    def stop(self, reason: str = "stopped") -> None:
        """Begin a graceful shutdown, before or during :meth:`run`.

        Call it from the worker's own thread (e.g. a handler) or from any plain thread; not from
        a thread that runs a different event loop (hop to a thread first).
        """
        token = self._token
        if token is None or threading.get_ident() == self._loop_thread:
            self.async_worker.stop(reason)
            return
        try:
            anyio.from_thread.run_sync(self.async_worker.stop, reason, token=token)
        except anyio.RunFinishedError:
            pass

    async def _main(self) -> None:
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        try:
            async with anyio.create_task_group() as tg:
                if self.handle_signals and threading.current_thread() is threading.main_thread():
                    tg.start_soon(self._watch_signals, tg.cancel_scope)
                await self.async_worker.run()
                tg.cancel_scope.cancel()
        finally:
            self._token = None

    async def _watch_signals(self, scope: anyio.CancelScope) -> None:
        try:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    name = signal.Signals(signum).name
                    if self.async_worker.stopping:
                        log.warning("%s again: cancelling running jobs", name)
                        scope.cancel()
                        return
                    log.info("%s received: stopping gracefully", name)
                    self.async_worker.stop(reason=f"signal {name}")
        except NotImplementedError:  # e.g. asyncio on Windows
            return
