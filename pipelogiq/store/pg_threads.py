"""PostgreSQL connections on dedicated threads: the store's functions run there against a
`PgConnection`, exactly as they run against SQLite's connection on its thread.

Write transactions are SERIALIZABLE, so two of them that race (two engines dispatching one
stage) cannot both commit: PostgreSQL fails one with a serialization failure (or a deadlock)
and the thread runs the whole function again, after a short jittered backoff, on fresh data.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.store.dbthread import ConnectionThreads
from pipelogiq.store.pg_bridge import PgConnection, is_retryable

T = TypeVar("T")

MAX_ATTEMPTS = 20
BACKOFF = 0.002  # seconds; the n-th retry waits up to BACKOFF * 2**n, capped at BACKOFF_CAP
BACKOFF_CAP = 0.25

log = logging.getLogger("pipelogiq.store")


class PgThreads(ConnectionThreads[PgConnection]):
    def __init__(self, sidecar: Sidecar, dsn: str, threads: int = 4) -> None:
        super().__init__("postgres", threads)
        self._sidecar = sidecar
        self._dsn = dsn

    def connect(self) -> PgConnection:
        return PgConnection(self._sidecar, self._dsn).open()

    def close(self, conn: PgConnection) -> None:
        try:
            conn.close()
        except Exception:  # closing a broken connection: nothing is left to save
            log.debug("closing a PostgreSQL connection failed", exc_info=True)

    def invoke(self, conn: PgConnection, fn: Callable[..., T], args: Sequence[Any]) -> T:
        attempt = 1
        while True:
            try:
                return fn(conn, *args)
            except Exception as exc:
                if not is_retryable(exc) or attempt >= MAX_ATTEMPTS or self.stopping.is_set():
                    raise
                conn.rollback()
                delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF * 2**attempt))
                log.debug("%s lost a race (%s); attempt %d in %.1f ms", getattr(fn, "__name__", fn),
                          getattr(exc, "sqlstate", "?"), attempt + 1, delay * 1000)
                self.stopping.wait(delay)
                attempt += 1
