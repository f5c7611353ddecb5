"""Store methods for the internal API's observability routes: the `ObservabilityStore` protocol
and its SQLite implementation `SqliteObservabilityMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_integrations.py`).

Integration configs are deployment-wide (one per kind); traces and insights are read for the
applications the caller passes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from pipelogiq.clock import Clock
from pipelogiq.integrations import IntegrationState
from pipelogiq.observability.tracing import PipelineTrace
from pipelogiq.store import sqlite_integrations as intg
from pipelogiq.store import sqlite_traces as trc
from pipelogiq.store.base import QueueBacklog

T = TypeVar("T")


@attrs.frozen
class TraceQuery:
    application_ids: Collection[int]
    page_number: int = 1
    page_size: int = 20
    search: str | None = None
    status: str | None = None


class ObservabilityStore(Protocol):
    """The observability part of the store interface."""

    async def integration_states(self) -> dict[str, IntegrationState]: ...

    async def save_integration_config(self, kind: str, raw: Any) -> IntegrationState:
        """Validate `raw` (masked secrets keep the stored ones) and store it, in one
        transaction; raises `IntegrationError` and stores nothing when it is invalid."""
        ...

    async def record_integration_test(self, kind: str, result: dict[str, Any],
                                      config_updated_at: float | None) -> None: ...

    async def link_templates(self) -> dict[str, str]:
        """`traceLinkTemplate` / `logsLinkTemplate` when set (for the worker bootstrap)."""
        ...

    async def queue_backlog(self, min_depth: int, pending_before: float) -> list[QueueBacklog]:
        """Handler queues with at least `min_depth` stages `Pending` or one `Pending` since
        before `pending_before` (wall time), at most 100 (for the backlog alert)."""
        ...

    async def list_traces(self, query: TraceQuery) -> dict[str, Any]: ...

    async def observability_insights(self, application_ids: Collection[int],
                                     since: float) -> dict[str, Any]: ...

    async def pipeline_traces(self, pipeline_ids: Sequence[int]) -> list[PipelineTrace]:
        """What the tracer exports of these (finished) pipelines; missing ones are left out."""
        ...


class SqliteObservabilityMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqlStore (SQLite and PostgreSQL)

    async def integration_states(self) -> dict[str, IntegrationState]:
        return await self.run(intg.states)

    async def save_integration_config(self, kind: str, raw: Any) -> IntegrationState:
        return await self.run(intg.save_config, kind, raw, self.clock.now())

    async def record_integration_test(self, kind: str, result: dict[str, Any],
                                      config_updated_at: float | None) -> None:
        await self.run(intg.record_test, kind, result, config_updated_at, self.clock.now())

    async def link_templates(self) -> dict[str, str]:
        return await self.run(intg.link_templates)

    async def queue_backlog(self, min_depth: int, pending_before: float) -> list[QueueBacklog]:
        return await self.run(intg.queue_backlog, min_depth, pending_before)

    async def list_traces(self, query: TraceQuery) -> dict[str, Any]:
        return await self.run(intg.list_traces, query, self.clock.now())

    async def observability_insights(self, application_ids: Collection[int],
                                     since: float) -> dict[str, Any]:
        return await self.run(intg.insights, application_ids, since, self.clock.now())

    async def pipeline_traces(self, pipeline_ids: Sequence[int]) -> list[PipelineTrace]:
        return await self.run(trc.pipeline_traces, list(pipeline_ids))
