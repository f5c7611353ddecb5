"""Store methods for the internal API's admin routes: the `AdminStore` protocol and its
SQLite implementation `SqliteAdminMethods` (a mixin of `SqliteStore`; SQL in
`sqlite_admin.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pipelogiq.clock import Clock

T = TypeVar("T")


class AdminStore(Protocol):
    """The admin part of the store interface."""


class SqliteAdminMethods:
    """Mixed into `SqliteStore`: each method is one hop to the connection thread."""

    clock: Clock

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # provided by SqliteStore
