"""The SQLite store runs the stage-hop path on the Trio thread (its own connection) and never
lets it wait for a lock there: while the connection thread holds the write lock, a hop-path call
goes to that thread and waits in line, and the event loop keeps running."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import trio
import trio.testing

from pipelogiq.clock import SystemClock
from pipelogiq.domain import Job, NewPipeline, NewStage, StageOptions
from pipelogiq.store.dbthread import DbThread
from pipelogiq.store.sqlite import SqliteStore


async def test_a_locked_database_sends_the_hop_path_to_the_thread(tmp_path: Path) -> None:
    async with SqliteStore(str(tmp_path / "hot.db"), SystemClock()) as store:
        await store.migrate()
        app = int((await store.create_application("app", None, None))["id"])
        pid, _ = await store.create_pipeline(NewPipeline(
            app, "p", (NewStage("s", "h", input="x", options=StageOptions()),)))
        _, stages = await store.stage_states(pid)  # on the Trio thread's connection

        locked, release = threading.Event(), threading.Event()
        released_by_trio = []
        safety = threading.Timer(10, release.set)  # a regression hangs the loop: end it anyway
        safety.start()

        def hold(conn: object) -> None:
            conn.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
            locked.set()
            release.wait()
            conn.execute("COMMIT")  # type: ignore[attr-defined]

        results: list[object] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run, hold)
            await trio.to_thread.run_sync(locked.wait)
            dispatched = trio.Event()

            async def dispatch() -> None:
                results.append(await store.dispatch(stages[0].id, "ready"))
                dispatched.set()

            nursery.start_soon(dispatch)
            await trio.testing.wait_all_tasks_blocked()
            assert not dispatched.is_set()  # it waits behind the lock, on the thread
            released_by_trio.append(True)  # the loop still runs: this task got here
            release.set()
            await dispatched.wait()
        safety.cancel()
        assert released_by_trio == [True]
        assert isinstance(results[0], Job) and results[0].stage_id == stages[0].id


async def test_the_wal_is_checkpointed_and_bounded_by_the_connection_thread(
        tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    allowed, checkpointed = threading.Event(), threading.Event()

    class Watched(DbThread):
        def chores(self, conn: sqlite3.Connection) -> None:
            allowed.wait(10)  # not before the test has looked at the file
            super().chores(conn)
            checkpointed.set()

    thread = Watched(str(path), checkpoint_every=0.05)
    async with thread:
        hot = thread.connect(busy_timeout_ms=0, autocheckpoint=False)
        assert hot.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        hot.execute("CREATE TABLE t (x TEXT)")
        for _ in range(30):  # well past the default autocheckpoint of 1000 pages
            hot.execute("BEGIN IMMEDIATE")
            hot.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 50)
            hot.execute("COMMIT")
        in_file_before = path.stat().st_size
        assert in_file_before < 100_000  # the hot commits left it all in the WAL
        allowed.set()
        assert await trio.to_thread.run_sync(checkpointed.wait, 10)
        assert path.stat().st_size > 5_000_000  # the thread folded it into the file
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size == 0  # and, past 1000 pages, started the WAL over
        assert hot.execute("SELECT count(*) FROM t").fetchone()[0] == 1500
        hot.close()


async def test_a_failing_checkpoint_does_not_stop_the_connection_thread(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failed = threading.Event()

    class Failing(DbThread):
        def chores(self, conn: sqlite3.Connection) -> None:
            failed.set()
            raise sqlite3.OperationalError("disk I/O error")

    thread = Failing(str(tmp_path / "f.db"), checkpoint_every=0.01)
    async with thread:
        assert await trio.to_thread.run_sync(failed.wait, 10)
        with trio.fail_after(10):  # a dead thread would leave this call waiting forever
            assert await thread.run(lambda conn: conn.execute("SELECT 41 + 1").fetchone()[0]) == 42
    assert "periodic work of sqlite failed" in caplog.text
