"""Store methods for the internal API's observability routes: the `ObservabilityStore` protocol and its
SQLite implementation `SqliteObservabilityMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_observability.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pipelogiq.clock import Clock

T = TypeVar("T")


class ObservabilityStore(Protocol):
    """The observability part of the store interface."""


class SqliteObservabilityMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqliteStore
