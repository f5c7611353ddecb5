"""Store methods for the internal API's policies routes: the `PoliciesStore` protocol and its
SQLite implementation `SqlitePoliciesMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_policies.py`).

Every method that touches one policy takes a `PolicyAccess` and checks it inside the same
transaction: a policy of an application the user does not see is a 404, a change to a global
policy (no application) by a non-Admin a 403, a deleted policy a 404 (its audit trail stays
readable)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol, TypeVar

import attrs

from pipelogiq.clock import Clock
from pipelogiq.policies import PipelineFacts, PolicyDraft
from pipelogiq.store import sqlite_policies as pol
from pipelogiq.store.sqlite_enforcement import held_pipelines

T = TypeVar("T")

SortKey = Literal["name", "updatedAt", "type"]


@attrs.frozen
class PolicyAccess:
    """Who asks: the applications they see and whether they are an Admin."""

    application_ids: frozenset[int]
    admin: bool = False


@attrs.frozen
class PolicyQuery:
    """`include_global`: also list global policies (those of no application)."""

    application_ids: Collection[int]
    include_global: bool = True
    search: str | None = None
    policy_type: str | None = None
    status: str | None = None
    sort_by: SortKey = "updatedAt"
    descending: bool = True
    page_number: int = 1
    page_size: int = 50


class PoliciesStore(Protocol):
    """The policies part of the store interface."""

    async def list_policies(self, query: PolicyQuery) -> dict[str, Any]: ...

    async def get_policy(self, policy_id: int, access: PolicyAccess) -> dict[str, Any]: ...

    async def create_policy(self, draft: PolicyDraft, actor: str) -> dict[str, Any]: ...

    async def update_policy(self, policy_id: int, draft: PolicyDraft, expected_version: int | None,
                            actor: str, access: PolicyAccess) -> dict[str, Any]: ...

    async def set_policy_status(self, policy_id: int, action: str, actor: str,
                                access: PolicyAccess) -> dict[str, Any]: ...

    async def duplicate_policy(self, policy_id: int, actor: str,
                               access: PolicyAccess) -> dict[str, Any]: ...

    async def delete_policy(self, policy_id: int, actor: str, access: PolicyAccess) -> None: ...

    async def policy_audit(self, policy_id: int, access: PolicyAccess, page_number: int,
                           page_size: int, triggered: bool = False) -> dict[str, Any]: ...

    async def policy_insights(self, policy_id: int, access: PolicyAccess, since: float,
                              bucket: float) -> dict[str, Any]: ...

    async def policy_targets(self, application_ids: Collection[int]) -> dict[str, Any]: ...

    async def recent_pipeline_facts(self, application_ids: Collection[int],
                                    limit: int) -> list[PipelineFacts]: ...

    async def held_pipelines(self, policy_id: int) -> list[int]:
        """Pipelines with a stage this policy holds back (re-evaluated when it changes)."""
        ...


class SqlitePoliciesMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqlStore (SQLite and PostgreSQL)

    async def list_policies(self, query: PolicyQuery) -> dict[str, Any]:
        return await self.run(pol.list_policies, query, self.clock.now())

    async def get_policy(self, policy_id: int, access: PolicyAccess) -> dict[str, Any]:
        return await self.run(pol.get_policy, policy_id, access, self.clock.now())

    async def create_policy(self, draft: PolicyDraft, actor: str) -> dict[str, Any]:
        return await self.run(pol.create_policy, draft, actor, self.clock.now())

    async def update_policy(self, policy_id: int, draft: PolicyDraft, expected_version: int | None,
                            actor: str, access: PolicyAccess) -> dict[str, Any]:
        return await self.run(pol.update_policy, policy_id, draft, expected_version, actor,
                              access, self.clock.now())

    async def set_policy_status(self, policy_id: int, action: str, actor: str,
                                access: PolicyAccess) -> dict[str, Any]:
        return await self.run(pol.set_status, policy_id, action, actor, access, self.clock.now())

    async def duplicate_policy(self, policy_id: int, actor: str,
                               access: PolicyAccess) -> dict[str, Any]:
        return await self.run(pol.duplicate_policy, policy_id, actor, access, self.clock.now())

    async def delete_policy(self, policy_id: int, actor: str, access: PolicyAccess) -> None:
        await self.run(pol.delete_policy, policy_id, actor, access, self.clock.now())

    async def policy_audit(self, policy_id: int, access: PolicyAccess, page_number: int,
                           page_size: int, triggered: bool = False) -> dict[str, Any]:
        return await self.run(pol.audit, policy_id, access, page_number, page_size, triggered)

    async def policy_insights(self, policy_id: int, access: PolicyAccess, since: float,
                              bucket: float) -> dict[str, Any]:
        return await self.run(pol.insights, policy_id, access, since, self.clock.now(), bucket)

    async def policy_targets(self, application_ids: Collection[int]) -> dict[str, Any]:
        return await self.run(pol.targets, application_ids)

    async def recent_pipeline_facts(self, application_ids: Collection[int],
                                    limit: int) -> list[PipelineFacts]:
        return await self.run(pol.recent_pipeline_facts, application_ids, limit)

    async def held_pipelines(self, policy_id: int) -> list[int]:
        return await self.run(held_pipelines, policy_id)
