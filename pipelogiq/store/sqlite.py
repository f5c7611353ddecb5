"""The store interface over SQL: `SqlStore` holds every method (each one hop to a connection
thread running a function of the `sqlite_*` modules, whose SQL both dialects share), and
`SqliteStore` is it over one SQLite connection thread (embedded mode). `postgres.py` puts the
same methods over PostgreSQL connection threads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import trio

from pipelogiq.clock import Clock
from pipelogiq.domain import Delivered, Job, JobResult, NewPipeline, StageState
from pipelogiq.store import migrate
from pipelogiq.store import sqlite_accounts as acc
from pipelogiq.store import sqlite_actions as act
from pipelogiq.store import sqlite_amqp as amqp
from pipelogiq.store import sqlite_engine as eng
from pipelogiq.store import sqlite_pipelines as pip
from pipelogiq.store import sqlite_read as rd
from pipelogiq.store import sqlite_retention as ret
from pipelogiq.store import sqlite_workers as wrk
from pipelogiq.store.admin_store import SqliteAdminMethods
from pipelogiq.store.base import AckOutcome, FollowOn, Held, PipelineQuery, Principal, Reclaimed
from pipelogiq.store.dbthread import Database, DbThread
from pipelogiq.store.observability_store import SqliteObservabilityMethods
from pipelogiq.store.policies_store import SqlitePoliciesMethods

T = TypeVar("T")


class SqlStore(SqliteAdminMethods, SqlitePoliciesMethods, SqliteObservabilityMethods):
    """Every method is one hop to a connection thread and, when it writes, one transaction.
    Feature areas of the internal API add their methods through the mixins."""

    kind: str

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.clock = clock

    async def __aenter__(self) -> SqlStore:
        await self._db.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._db.__aexit__(*exc)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.run(fn, *args)

    async def run_hot(self, fn: Callable[..., T], *args: Any) -> T:
        """A short, indexed transaction of the stage-hop path (see `SqliteStore.run_hot`)."""
        return await self.run(fn, *args)

    async def migrate(self) -> list[str]:
        raise NotImplementedError

    async def ping(self) -> None:
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- pipelines -----------------------------------------------------------------------
    async def create_pipeline(self, new: NewPipeline) -> tuple[int, bool]:
        return await self.run_hot(pip.create_pipeline, new, self.clock.now())

    async def create_and_start(
            self, new: NewPipeline) -> tuple[int, bool, FollowOn | None, dict[str, Any]]:
        return await self.run_hot(pip.create_and_start, new, self.clock.now())

    async def pipeline_json(self, pipeline_id: int, *, with_logs: bool = False) -> dict[str, Any] | None:
        if with_logs:  # logs are unbounded: off the event loop
            return await self.run(lambda c: rd.pipeline_json(c, pipeline_id, with_logs=True))
        return await self.run_hot(rd.pipeline_json, pipeline_id)

    async def list_pipelines(self, query: PipelineQuery) -> dict[str, Any]:
        return await self.run(pip.list_pipelines, query)

    async def stage_states(self, pipeline_id: int) -> tuple[str | None, list[StageState]]:
        return await self.run_hot(eng.stage_states, pipeline_id)

    async def idle_active_pipeline_ids(self) -> list[int]:
        return await self.run(eng.idle_active_pipeline_ids)

    # -- engine transitions --------------------------------------------------------------
    async def dispatch(self, stage_id: int, reason: str) -> Job | Held | None:
        return await self.run_hot(eng.dispatch, stage_id, self.clock.now(), reason)

    async def finish_pipeline(self, pipeline_id: int, status: str, reason: str) -> bool:
        return await self.run_hot(eng.finish_pipeline, pipeline_id, status, reason, self.clock.now())

    async def lease(self, jobs: Sequence[Job], queue: str, worker_id: str | None,
                    lease_seconds: float) -> list[Delivered]:
        return await self.run_hot(eng.lease, jobs, queue, worker_id, self.clock.now(), lease_seconds)

    async def return_leases(self, tokens: Sequence[str]) -> list[Job]:
        return await self.run_hot(eng.return_leases, tokens, self.clock.now())

    async def ack(self, app_id: int, token: str, result: JobResult,
                  follow: bool = False) -> AckOutcome:
        return await self.run_hot(eng.ack, app_id, token, result, self.clock.now(), follow)

    async def ack_many(self, app_id: int, items: Sequence[tuple[str, JobResult]],
                       follow: bool = False) -> list[AckOutcome]:
        return await self.run_hot(eng.ack_many, app_id, items, self.clock.now(), follow)

    async def requeue(self, app_id: int, token: str, max_redeliveries: int) -> AckOutcome:
        return await self.run_hot(eng.requeue, app_id, token, self.clock.now(), max_redeliveries)

    async def extend(self, app_id: int, token: str, seconds: float) -> float:
        return await self.run_hot(eng.extend, app_id, token, seconds, self.clock.now())

    async def reclaim_expired(self, max_redeliveries: int) -> Reclaimed:
        return await self.run(eng.reclaim_expired, self.clock.now(), max_redeliveries)

    async def reclaim_worker(self, worker_id: str, max_redeliveries: int, reason: str) -> Reclaimed:
        return await self.run(eng.reclaim_worker, worker_id, self.clock.now(), max_redeliveries,
                              reason)

    async def fail_stale_pending(self, older_than: float) -> Reclaimed:
        return await self.run(eng.fail_stale_pending, self.clock.now(), older_than)

    async def next_deadline(self, pending_timeout: float) -> float | None:
        return await self.run(eng.next_deadline, pending_timeout)

    async def pending_jobs(self) -> list[Job]:
        return await self.run(eng.pending_jobs)

    async def stale_pending_jobs(self, older_than: float) -> list[Job]:
        return await self.run(amqp.stale_pending_jobs, self.clock.now() - older_than)

    async def job_payloads(self, jobs: Sequence[Job]) -> list[Job]:
        return await self.run(amqp.job_payloads, jobs)

    async def mark_running(self, stage_id: int, attempt: int | None) -> AckOutcome:
        return await self.run(amqp.mark_running, stage_id, attempt, self.clock.now())

    async def apply_amqp_result(self, stage_id: int, result: JobResult,
                                attempt: int | None) -> AckOutcome:
        return await self.run(amqp.apply_amqp_result, stage_id, result, attempt,
                              self.clock.now())

    async def purge_finished(self, retention: float) -> int:
        """Purge in batches until nothing older than `retention` seconds is left."""
        total = 0
        while (n := await self.run(ret.purge, self.clock.now() - retention)) > 0:
            total += n
        return total

    # -- operator actions ----------------------------------------------------------------
    async def rerun(self, stage_id: int, all_next: bool, user: str, apps: Collection[int]) -> int:
        return await self.run(act.rerun, stage_id, all_next, user, apps, self.clock.now())

    async def skip(self, stage_id: int, user: str, apps: Collection[int]) -> int:
        return await self.run(act.skip, stage_id, user, apps, self.clock.now())

    async def cancel(self, pipeline_id: int, user: str, apps: Collection[int]) -> int:
        return await self.run(act.cancel, pipeline_id, user, apps, self.clock.now())

    async def retry_now(self, stage_id: int, user: str, apps: Collection[int]) -> int:
        return await self.run(act.retry_now, stage_id, user, apps, self.clock.now())

    # -- accounts ------------------------------------------------------------------------
    async def get_or_set_setting(self, key: str, candidate: str) -> str:
        return await self.run(acc.get_or_set_setting, key, candidate)

    async def authenticate_key(self, key_hash: str) -> int:
        return await self.run_hot(acc.authenticate_key, key_hash, self.clock.now())

    async def authenticate_session(self, session_hash: str) -> Principal:
        return await self.run_hot(wrk.authenticate_session, session_hash, self.clock.now())

    async def create_user(self, email: str, name: str, role: str, pw_hash: str) -> int | None:
        return await self.run(acc.create_user, email, name, role, pw_hash, self.clock.now())

    async def count_users(self) -> int:
        return await self.run(acc.count_users)

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        return await self.run(acc.user_by_email, email)

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        return await self.run(acc.user_by_id, user_id)

    async def visible_application_ids(self, user_id: int) -> list[int]:
        return await self.run(acc.visible_application_ids, user_id)

    async def create_application(self, name: str, description: str | None,
                                 user_id: int | None) -> dict[str, Any]:
        return await self.run(acc.create_application, name, description, user_id,
                              self.clock.now())

    async def application_by_name(self, name: str) -> dict[str, Any] | None:
        return await self.run(acc.application_by_name, name)

    async def count_applications(self) -> int:
        return await self.run(acc.count_applications)

    async def list_applications(self, apps: Collection[int]) -> list[dict[str, Any]]:
        return await self.run(acc.list_applications, apps)

    async def create_api_key(self, app_id: int, name: str, key_hash: str, prefix: str,
                             expires_at: float | None) -> dict[str, Any]:
        return await self.run(acc.create_api_key, app_id, name, key_hash, prefix, expires_at,
                              self.clock.now())

    async def list_api_keys(self, apps: Collection[int]) -> list[dict[str, Any]]:
        return await self.run(acc.list_api_keys, apps)

    async def disable_api_key(self, key_id: int, apps: Collection[int]) -> dict[str, Any]:
        return await self.run(acc.disable_api_key, key_id, apps, self.clock.now())

    async def app_log(self, app_id: int, level: str, message: str, created: float | None,
                      keywords: str | None) -> None:
        await self.run(acc.app_log, app_id, level, message, created or self.clock.now(), keywords)

    # -- workers -------------------------------------------------------------------------
    async def bootstrap_worker(self, app_id: int, info: dict[str, Any], session_hash: str,
                               ttl: float) -> str:
        return await self.run(wrk.bootstrap, app_id, info, session_hash, ttl, self.clock.now())

    async def worker_app(self, worker_id: str) -> int | None:
        return await self.run(wrk.worker_app, worker_id)

    async def heartbeat(self, worker_id: str, hb: dict[str, Any]) -> str | None:
        return await self.run(wrk.heartbeat, worker_id, hb, self.clock.now())

    async def add_worker_events(self, worker_id: str, events: Sequence[dict[str, Any]]) -> int:
        return await self.run(wrk.add_events, worker_id, events, self.clock.now())

    async def set_worker_gone(self, worker_id: str, state: str, message: str,
                              stale_before: float | None = None) -> bool:
        return await self.run(wrk.set_gone, worker_id, state, message, self.clock.now(),
                              stale_before)

    async def worker_last_seen(self, worker_id: str) -> tuple[str, float] | None:
        return await self.run(wrk.last_seen, worker_id)

    async def live_workers(self) -> list[tuple[str, float]]:
        return await self.run(wrk.live_workers)

    async def list_workers(self, apps: Sequence[int], offline_after: float) -> list[dict[str, Any]]:
        return await self.run(wrk.list_workers, apps, self.clock.now(), offline_after)


class SqliteStore(SqlStore):
    """Embedded mode: one SQLite file, one connection thread."""

    kind = "sqlite"

    def __init__(self, path: str, clock: Clock, *, inline: bool = False) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        thread = DbThread(path, inline=inline)
        super().__init__(thread, clock)
        self._thread = thread
        # The hop path's own connection on the Trio thread: no thread crossing for its short,
        # indexed transactions (+20-40 % hops/s, BENCHMARKS.md). It never waits for a lock:
        # when the connection thread holds the write lock (a long admin write, retention),
        # the call runs on that thread instead, so the event loop is never blocked on SQLite.
        self._hot_wanted = not inline and path != ":memory:"
        self._hot: sqlite3.Connection | None = None

    async def __aenter__(self) -> SqliteStore:
        await super().__aenter__()
        if self._hot_wanted:
            self._hot = self._thread.connect(busy_timeout_ms=0, autocheckpoint=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._hot is not None:
            self._hot.close()
            self._hot = None
        await super().__aexit__(*exc)

    async def run_hot(self, fn: Callable[..., T], *args: Any) -> T:
        hot = self._hot
        if hot is None:
            return await self.run(fn, *args)
        await trio.lowlevel.checkpoint()
        try:
            return fn(hot, *args)
        except sqlite3.OperationalError as exc:
            # SQLITE_BUSY comes at BEGIN IMMEDIATE (or a read during a checkpoint), before the
            # function changed anything: run it where waiting for the lock is harmless.
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return await self.run(fn, *args)

    async def migrate(self) -> list[str]:
        return await self.run(migrate.apply_sqlite, self.clock.now())
