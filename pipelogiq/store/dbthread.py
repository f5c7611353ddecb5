"""Database connections owned by dedicated threads (STACK.md §6): the one SQLite connection
on its thread (`DbThread`). PostgreSQL's connections live on the asyncio sidecar instead
(`pg_pool.PgPool`); both are a `Database`.

Trio code calls `await db.run(fn, *args)`; a free thread runs `fn(conn, *args)` and hands the
outcome back through the Trio token. The wait is shielded: once queued, work will run, so we
wait for its outcome to keep state consistent.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import outcome
import trio

T = TypeVar("T")
C = TypeVar("C")

log = logging.getLogger("pipelogiq.store")

_STOP = object()


class DatabaseUnavailable(Exception):
    """The database could not be opened at start (its cause is chained)."""


class Database(Protocol):
    """Where a store runs its functions: `fn(conn, *args)`, one transaction each."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def run(self, fn: Callable[..., T], *args: Any, shield: bool = True) -> T: ...


class ConnectionThreads(Generic[C]):
    """`threads` threads, each owning the connection `connect()` makes on it; `invoke` is how
    a thread runs one function (a subclass may retry it). `inline=True` runs statements on
    the Trio thread instead: only for tests that need `autojump_clock` to be exact (it would
    jump while Trio waits on a thread)."""

    def __init__(self, name: str, threads: int = 1, *, inline: bool = False) -> None:
        self._name = name
        self._threads = threads
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._running: list[threading.Thread] = []
        self._inline_conn: C | None = None
        self._inline = inline
        self.stopping = threading.Event()  # set at shutdown: wakes a thread's backoff

    def connect(self) -> C:
        raise NotImplementedError

    def close(self, conn: C) -> None:
        raise NotImplementedError

    def invoke(self, conn: C, fn: Callable[..., T], args: Sequence[Any]) -> T:
        return fn(conn, *args)

    chores_every = 3600.0

    def chores(self, conn: C) -> None:
        """Periodic work of each connection thread, between calls (every `chores_every` s)."""

    async def __aenter__(self) -> ConnectionThreads[C]:
        if self._inline:
            self._inline_conn = self.connect()
            return self
        token = trio.lowlevel.current_trio_token()
        ready: queue.SimpleQueue[outcome.Outcome[None]] = queue.SimpleQueue()
        for i in range(self._threads):
            thread = threading.Thread(target=self._main, args=(token, ready),
                                      name=f"{self._name}-{i}", daemon=True)
            thread.start()
            self._running.append(thread)
        results = [await trio.to_thread.run_sync(ready.get) for _ in self._running]
        failed = [r.error for r in results if isinstance(r, outcome.Error)]
        if failed:
            await self.__aexit__(None, None, None)
            raise DatabaseUnavailable(f"cannot open the database: {failed[0]}") from failed[0]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._inline_conn is not None:
            self.close(self._inline_conn)
            return
        self.stopping.set()
        for _ in self._running:
            self._queue.put(_STOP)
        with trio.CancelScope(shield=True):
            for thread in self._running:
                await trio.to_thread.run_sync(thread.join)

    def _main(
        self, token: trio.lowlevel.TrioToken, ready: queue.SimpleQueue[outcome.Outcome[None]]
    ) -> None:
        try:
            conn = self.connect()
        except BaseException as exc:  # reported to the Trio side, which raises it
            ready.put(outcome.Error(exc))
            return
        ready.put(outcome.Value(None))
        try:
            chores_due = time.monotonic() + self.chores_every
            while True:
                try:
                    item = self._queue.get(timeout=max(0.0, chores_due - time.monotonic()))
                except queue.Empty:
                    item = None
                if item is _STOP:
                    return
                if item is not None:
                    fn, args, box, event = item
                    box.append(outcome.capture(self.invoke, conn, fn, args))
                    token.run_sync_soon(event.set)
                if time.monotonic() >= chores_due:
                    try:
                        self.chores(conn)
                    except Exception:  # the thread must go on serving calls
                        log.warning("periodic work of %s failed", self._name, exc_info=True)
                    chores_due = time.monotonic() + self.chores_every
        finally:
            self.close(conn)

    async def run(self, fn: Callable[..., T], *args: Any, shield: bool = True) -> T:
        """`shield=False` lets a cancelled caller leave before the outcome (only for work whose
        outcome nobody needs, like a readiness probe)."""
        if self._inline_conn is not None:
            await trio.lowlevel.checkpoint()
            return self.invoke(self._inline_conn, fn, args)
        box: list[outcome.Outcome[T]] = []
        event = trio.Event()
        self._queue.put((fn, args, box, event))
        with trio.CancelScope(shield=shield):
            await event.wait()
        return box[0].unwrap()


WAL_MAX_FRAMES = 1000  # pages (4 MiB), SQLite's own autocheckpoint threshold


class DbThread(ConnectionThreads[sqlite3.Connection]):
    """The one SQLite connection (SQLite has one writer; WAL lets it read meanwhile)."""

    def __init__(self, path: str, *, synchronous: str = "NORMAL", inline: bool = False,
                 checkpoint_every: float = 1.0) -> None:
        super().__init__("sqlite", 1, inline=inline)
        self.chores_every = checkpoint_every
        self._path = path
        self._synchronous = synchronous

    # The WAL is folded back into the database file here, on the connection thread, never in
    # a commit on the Trio thread (its connection has autocheckpoint off): a checkpoint copies
    # pages and syncs the file, which would stall the event loop for as long.
    def chores(self, conn: sqlite3.Connection) -> None:
        # A passive checkpoint never waits, but under a steady stream of commits it never
        # catches up with the end of the WAL either, and a WAL only starts over once it has:
        # past WAL_MAX_FRAMES it checkpoints holding the write lock (hop calls meanwhile wait
        # for it here, on this thread, not on the event loop) and truncates the file.
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames >= WAL_MAX_FRAMES:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def connect(self, busy_timeout_ms: int = 5000, *,
                autocheckpoint: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys=ON")
        if not autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def close(self, conn: sqlite3.Connection) -> None:
        conn.close()
