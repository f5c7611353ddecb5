"""PostgreSQL connections for Trio: `await pool.run(fn, *args)` takes a free connection and runs
the store function `fn(conn, *args)` on it, whole, on the sidecar's loop (one crossing per
transaction, `pg_bridge.PgConnection.transact`), exactly as SQLite's thread runs it.

A transaction that loses a race (a serialization failure under SERIALIZABLE, a deadlock
between row locks) is run again, whole and on fresh data, after a short jittered backoff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import trio

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.store.dbthread import DatabaseUnavailable
from pipelogiq.store.pg_bridge import PgConnection, is_retryable

T = TypeVar("T")

MAX_ATTEMPTS = 20
BACKOFF = 0.002  # seconds; the n-th retry waits up to BACKOFF * 2**n, capped at BACKOFF_CAP
BACKOFF_CAP = 0.25

log = logging.getLogger("pipelogiq.store")


class PgPool:
    """`size` connections, all opened on entry (a database that cannot be reached fails the
    start with `DatabaseUnavailable`), closed on exit. Each runs one transaction at a time."""

    def __init__(self, sidecar: Sidecar, dsn: str, size: int = 4) -> None:
        self._sidecar = sidecar
        self._conns = [PgConnection(dsn) for _ in range(size)]
        # Buffer = size: it holds the idle connections, and there are never more.
        self._free_send, self._free = trio.open_memory_channel[PgConnection](size)

    async def __aenter__(self) -> PgPool:
        try:
            for conn in self._conns:
                await self._sidecar.run(conn.connect)
        except Exception as exc:
            await self.__aexit__(None, None, None)
            raise DatabaseUnavailable(f"cannot open the database: {exc}") from exc
        for conn in self._conns:
            self._free_send.send_nowait(conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with trio.CancelScope(shield=True):
            for conn in self._conns:
                try:
                    await self._sidecar.run(conn.close)
                except Exception:  # closing a broken connection: nothing is left to save
                    log.debug("closing a PostgreSQL connection failed", exc_info=True)

    async def run(self, fn: Callable[..., T], *args: Any, shield: bool = True) -> T:
        """Shielded: once asked, the work runs and its outcome is waited for, so the caller's
        state stays consistent with the database. `shield=False` lets a cancelled caller leave
        (only for work whose outcome nobody needs, like a readiness probe): the statement it
        interrupts is cancelled on the server and its transaction rolled back."""
        with trio.CancelScope(shield=shield):
            conn = await self._free.receive()
            try:
                result = await self._transact(conn, fn, args)
            finally:
                self._free_send.send_nowait(conn)
        return result

    async def _transact(self, conn: PgConnection, fn: Callable[..., T], args: Sequence[Any]) -> T:
        attempt = 1
        while True:
            try:
                return await self._sidecar.run(conn.transact, fn, args)
            except Exception as exc:
                if not is_retryable(exc) or attempt >= MAX_ATTEMPTS:
                    raise
                delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF * 2**attempt))
                log.debug("%s lost a race (%s); attempt %d in %.1f ms",
                          getattr(fn, "__name__", fn), getattr(exc, "sqlstate", "?"),
                          attempt + 1, delay * 1000)
                await trio.sleep(delay)
                attempt += 1
