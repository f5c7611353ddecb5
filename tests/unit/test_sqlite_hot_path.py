"""The SQLite store runs the stage-hop path on the Trio thread (its own connection) and never
lets it wait for a lock there: while the connection thread holds the write lock, a hop-path call
goes to that thread and waits in line, and the event loop keeps running."""

from __future__ import annotations

import threading
from pathlib import Path

import trio
import trio.testing

from pipelogiq.clock import SystemClock
from pipelogiq.domain import Job, NewPipeline, NewStage, StageOptions
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
