"""Retention purges finished pipelines (with every row that hangs off them) and nothing else."""

from __future__ import annotations

from pathlib import Path

import trio

from pipelogiq.clock import TrioClock
from pipelogiq.domain import NewPipeline, NewStage
from pipelogiq.store.sqlite import SqliteStore

DAY = 86_400.0


async def test_purge_keeps_unfinished_and_recent(tmp_path: Path, autojump_clock: object) -> None:
    clock = TrioClock()
    async with SqliteStore(str(tmp_path / "r.db"), clock, inline=True) as store:
        await store.migrate()
        app = (await store.create_application("a", None, None))["id"]
        new = NewPipeline(app, "p", (NewStage("s", "h"),), keywords=(("k", "v"),),
                          context=(("c", "1", "string"),))
        old, _ = await store.create_pipeline(new)
        await store.finish_pipeline(old, "Completed", "test")
        running, _ = await store.create_pipeline(new)
        await trio.sleep(31 * DAY)
        recent, _ = await store.create_pipeline(new)
        await store.finish_pipeline(recent, "Failed", "test")

        assert await store.purge_finished(30 * DAY) == 1

        assert await store.pipeline_json(old) is None
        assert await store.pipeline_json(running) is not None
        assert await store.pipeline_json(recent) is not None
        leftovers = await store.run(lambda c: [
            c.execute(f"SELECT COUNT(*) FROM {t} WHERE pipeline_id = ?", (old,)).fetchone()[0]
            for t in ("stages", "stage_logs", "context_items", "keywords")])
        assert leftovers == [0, 0, 0, 0]
