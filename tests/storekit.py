"""Store-level test helpers (a pytest plugin, see tests/conftest.py): a clock the test moves by
hand, and the `store` fixture that runs each test on SQLite and on a fresh PostgreSQL database
(`open_store` opens another store on the same database, as another process would)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import trio

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.store.postgres import PostgresStore
from pipelogiq.store.sqlite import SqliteStore, SqlStore

T0 = 1_800_000_000.0

Opener = Callable[[], AbstractAsyncContextManager[SqlStore]]  # another store, same database


class ManualClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t

    def trio_deadline(self, wall: float) -> float:
        return trio.current_time() + (wall - self.t)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Opener:
    if request.param == "sqlite":
        def lite() -> AbstractAsyncContextManager[SqlStore]:
            return SqliteStore(str(tmp_path / "store.db"), clock)

        return lite
    url = request.getfixturevalue("pg_url")

    @asynccontextmanager
    async def pg() -> AsyncIterator[SqlStore]:
        async with Sidecar() as sidecar, PostgresStore(url, clock, sidecar) as store:
            yield store

    return pg


@pytest.fixture
async def store(open_store: Opener) -> AsyncIterator[SqlStore]:
    async with open_store() as s:
        assert await s.migrate()
        assert await s.migrate() == []
        yield s
