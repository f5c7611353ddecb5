"""Store methods for the internal API's policies routes: the `PoliciesStore` protocol and its
SQLite implementation `SqlitePoliciesMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_policies.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pipelogiq.clock import Clock

T = TypeVar("T")


class PoliciesStore(Protocol):
    """The policies part of the store interface."""


class SqlitePoliciesMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqliteStore
