"""One SQLite connection owned by one dedicated thread (STACK.md §6).

Trio code calls `await db.run(fn, *args)`; the thread runs `fn(conn, *args)` and hands the
outcome back through the Trio token. The wait is shielded: once queued, work will run, so we
wait for its outcome to keep state consistent.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")

_STOP = object()


class DbThread:
    """`inline=True` runs statements on the Trio thread instead: only for tests that need
    `autojump_clock` to be exact (it would jump while Trio waits on the thread)."""

    def __init__(self, path: str, *, synchronous: str = "NORMAL", inline: bool = False) -> None:
        self._path = path
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._inline_conn: sqlite3.Connection | None = None
        self._inline = inline

    async def __aenter__(self) -> DbThread:
        if self._inline:
            self._inline_conn = self._connect()
            return self
        token = trio.lowlevel.current_trio_token()
        ready: queue.SimpleQueue[outcome.Outcome[None]] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._main, args=(token, ready), name="sqlite", daemon=True
        )
        self._thread.start()
        result = await trio.to_thread.run_sync(ready.get)
        result.unwrap()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._inline_conn is not None:
            self._inline_conn.close()
            return
        self._queue.put(_STOP)
        assert self._thread is not None
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._thread.join)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _main(
        self, token: trio.lowlevel.TrioToken, ready: queue.SimpleQueue[outcome.Outcome[None]]
    ) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the Trio side, which raises it
            ready.put(outcome.Error(exc))
            return
        ready.put(outcome.Value(None))
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                fn, args, box, event = item
                box.append(outcome.capture(fn, conn, *args))
                token.run_sync_soon(event.set)
        finally:
            conn.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._inline_conn is not None:
            await trio.lowlevel.checkpoint()
            return fn(self._inline_conn, *args)
        box: list[outcome.Outcome[T]] = []
        event = trio.Event()
        self._queue.put((fn, args, box, event))
        with trio.CancelScope(shield=True):
            await event.wait()
        return box[0].unwrap()
