"""`PostgresStore`: the store interface on PostgreSQL (distributed mode).

The same methods and SQL as on SQLite (`SqlStore`), run by `PgPool`: each method's function
runs whole on the asyncio sidecar (one crossing per transaction). Several API and engine
processes may share the database: write transactions are SERIALIZABLE, except the engine's hot
transitions, which run READ COMMITTED and lock the rows they depend on (`sqltx.tx`); a
transaction that loses a race is run again.
"""

from __future__ import annotations

import trio

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.clock import Clock
from pipelogiq.store import migrate
from pipelogiq.store.pg_bridge import PgConnection
from pipelogiq.store.pg_pool import PgPool
from pipelogiq.store.sqlite import SqlStore

# Connections per process = transactions in flight at once. They cost no threads; with 8,
# concurrent commits share fsyncs (8 tasks: ~1.5x the hops/s of 4 in benchmarks/store_hops).
POOL_SIZE = 8
PING_WAIT = 5.0  # seconds a readiness probe waits for the database


class PostgresStore(SqlStore):
    """Enter the `sidecar` before the store and leave it after."""

    kind = "postgres"

    def __init__(self, dsn: str, clock: Clock, sidecar: Sidecar, *,
                 pool_size: int = POOL_SIZE) -> None:
        super().__init__(PgPool(sidecar, dsn, pool_size), clock)

    async def __aenter__(self) -> PostgresStore:
        await super().__aenter__()
        return self

    async def migrate(self) -> list[str]:
        return await self.run(migrate.apply_postgres, self.clock.now())

    async def ping(self) -> None:
        """Raises when the database does not answer within PING_WAIT (a probe that gave up
        leaves its `SELECT 1` to finish on its own)."""
        with trio.move_on_after(PING_WAIT):
            await self._db.run(_select_one, shield=False)
            return
        raise ConnectionError(f"the database did not answer within {PING_WAIT:g}s")


def _select_one(conn: PgConnection) -> None:
    conn.execute("SELECT 1").fetchone()
