"""Store methods for the internal API's admin routes: the `AdminStore` protocol and its
SQLite implementation `SqliteAdminMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_admin.py` and `sqlite_admin_*.py`).

Scoped methods take `apps`, the caller's visible application ids: a row of any other
application is a StoreError(404), exactly like a missing one. Failed preconditions are
StoreError(409) with the reason."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar

from pipelogiq.clock import Clock
from pipelogiq.store import sqlite_admin as adm
from pipelogiq.store import sqlite_admin_accounts as accounts
from pipelogiq.store import sqlite_admin_read as read
from pipelogiq.store import sqlite_admin_stats as stats

T = TypeVar("T")


class AdminStore(Protocol):
    """The admin part of the store interface."""

    # -- pipelines -----------------------------------------------------------------------
    async def pipeline_context(self, pipeline_id: int,
                               apps: Collection[int]) -> list[dict[str, Any]]: ...

    async def pipeline_log_lines(self, pipeline_id: int, stage_id: int | None,
                                 apps: Collection[int], after_id: int,
                                 limit: int) -> list[dict[str, Any]]: ...

    async def delete_pipeline(self, pipeline_id: int, apps: Collection[int]) -> None: ...

    # -- applications and members --------------------------------------------------------
    async def application_detail(self, app_id: int, apps: Collection[int]) -> dict[str, Any]: ...

    async def update_application(self, app_id: int, name: str, description: str | None,
                                 apps: Collection[int]) -> dict[str, Any]: ...

    async def delete_application(self, app_id: int) -> None: ...

    async def application_members(self, app_id: int,
                                  apps: Collection[int]) -> list[dict[str, Any]]: ...

    async def add_application_member(self, app_id: int, user_id: int,
                                     apps: Collection[int]) -> dict[str, Any]: ...

    async def remove_application_member(self, app_id: int, user_id: int,
                                        apps: Collection[int]) -> None: ...

    # -- users ---------------------------------------------------------------------------
    async def list_users(self) -> list[dict[str, Any]]: ...

    async def user_public(self, user_id: int) -> dict[str, Any]: ...

    async def set_user_role(self, user_id: int, role: str) -> dict[str, Any]: ...

    async def set_user_disabled(self, user_id: int, disabled: bool,
                                acting_id: int) -> dict[str, Any]: ...

    async def set_user_password(self, user_id: int, password_hash: str) -> None: ...

    # -- keywords, application logs, workers ---------------------------------------------
    async def keyword_values(self, apps: Sequence[int]) -> list[dict[str, Any]]: ...

    async def handler_pairs(self, limit: int) -> list[tuple[int, str]]:
        """Distinct (application, handler) of all stages, deployment-wide (not scoped)."""
        ...

    async def application_logs(self, apps: Sequence[int], page: int, size: int,
                               levels: Sequence[str], search: str | None) -> dict[str, Any]: ...

    async def worker_detail(self, worker_id: str, apps: Collection[int],
                            offline_after: float) -> dict[str, Any]: ...

    async def worker_events(self, worker_id: str, apps: Collection[int],
                            limit: int) -> list[dict[str, Any]]: ...

    async def worker_heartbeats(self, worker_id: str, apps: Collection[int],
                                limit: int) -> list[dict[str, Any]]: ...

    # -- statistics and metrics ----------------------------------------------------------
    async def stats_summary(self, apps: Sequence[int], now: float, since: float,
                            offline_after: float) -> dict[str, Any]: ...

    async def stats_executions(self, apps: Sequence[int], start: float, bucket: float,
                               count: int) -> list[dict[str, Any]]: ...

    async def metrics_gauges(self, offline_after: float) -> dict[str, Any]: ...


class SqliteAdminMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqlStore (SQLite and PostgreSQL)

    # -- pipelines -----------------------------------------------------------------------
    async def pipeline_context(self, pipeline_id: int,
                               apps: Collection[int]) -> list[dict[str, Any]]:
        return await self.run(adm.pipeline_context, pipeline_id, apps)

    async def pipeline_log_lines(self, pipeline_id: int, stage_id: int | None,
                                 apps: Collection[int], after_id: int,
                                 limit: int) -> list[dict[str, Any]]:
        return await self.run(adm.pipeline_log_lines, pipeline_id, stage_id, apps, after_id,
                              limit)

    async def delete_pipeline(self, pipeline_id: int, apps: Collection[int]) -> None:
        return await self.run(adm.delete_pipeline, pipeline_id, apps)

    # -- applications and members --------------------------------------------------------
    async def application_detail(self, app_id: int, apps: Collection[int]) -> dict[str, Any]:
        return await self.run(accounts.application_detail, app_id, apps, self.clock.now())

    async def update_application(self, app_id: int, name: str, description: str | None,
                                 apps: Collection[int]) -> dict[str, Any]:
        return await self.run(accounts.update_application, app_id, name, description, apps,
                              self.clock.now())

    async def delete_application(self, app_id: int) -> None:
        return await self.run(accounts.delete_application, app_id, self.clock.now())

    async def application_members(self, app_id: int,
                                  apps: Collection[int]) -> list[dict[str, Any]]:
        return await self.run(accounts.application_members, app_id, apps)

    async def add_application_member(self, app_id: int, user_id: int,
                                     apps: Collection[int]) -> dict[str, Any]:
        return await self.run(accounts.add_application_member, app_id, user_id, apps)

    async def remove_application_member(self, app_id: int, user_id: int,
                                        apps: Collection[int]) -> None:
        return await self.run(accounts.remove_application_member, app_id, user_id, apps)

    # -- users ---------------------------------------------------------------------------
    async def list_users(self) -> list[dict[str, Any]]:
        return await self.run(accounts.list_users)

    async def user_public(self, user_id: int) -> dict[str, Any]:
        return await self.run(accounts.user_public, user_id)

    async def set_user_role(self, user_id: int, role: str) -> dict[str, Any]:
        return await self.run(accounts.set_user_role, user_id, role)

    async def set_user_disabled(self, user_id: int, disabled: bool,
                                acting_id: int) -> dict[str, Any]:
        return await self.run(accounts.set_user_disabled, user_id, disabled, acting_id,
                              self.clock.now())

    async def set_user_password(self, user_id: int, password_hash: str) -> None:
        return await self.run(accounts.set_user_password, user_id, password_hash)

    # -- keywords, application logs, workers ---------------------------------------------
    async def keyword_values(self, apps: Sequence[int]) -> list[dict[str, Any]]:
        return await self.run(read.keyword_values, apps)

    async def handler_pairs(self, limit: int) -> list[tuple[int, str]]:
        return await self.run(read.handler_pairs, limit)

    async def application_logs(self, apps: Sequence[int], page: int, size: int,
                               levels: Sequence[str], search: str | None) -> dict[str, Any]:
        return await self.run(read.application_logs, apps, page, size, levels, search)

    async def worker_detail(self, worker_id: str, apps: Collection[int],
                            offline_after: float) -> dict[str, Any]:
        return await self.run(read.worker_detail, worker_id, apps, self.clock.now(),
                              offline_after)

    async def worker_events(self, worker_id: str, apps: Collection[int],
                            limit: int) -> list[dict[str, Any]]:
        return await self.run(read.worker_events, worker_id, apps, limit)

    async def worker_heartbeats(self, worker_id: str, apps: Collection[int],
                                limit: int) -> list[dict[str, Any]]:
        return await self.run(read.worker_heartbeats, worker_id, apps, limit)

    # -- statistics and metrics ----------------------------------------------------------
    async def stats_summary(self, apps: Sequence[int], now: float, since: float,
                            offline_after: float) -> dict[str, Any]:
        return await self.run(stats.stats_summary, apps, now, since, offline_after)

    async def stats_executions(self, apps: Sequence[int], start: float, bucket: float,
                               count: int) -> list[dict[str, Any]]:
        return await self.run(stats.stats_executions, apps, start, bucket, count)

    async def metrics_gauges(self, offline_after: float) -> dict[str, Any]:
        return await self.run(stats.metrics_gauges, self.clock.now(), offline_after)
