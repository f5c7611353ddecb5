"""Rejected requests leave a keep-alive connection usable: a 404/405 answered before the body
was read used to wedge the next request on the same connection (seen against the real
server process, not in-process)."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from serverproc import ServerProcess


async def test_rejected_posts_keep_the_connection_usable(tmp_path: Path,
                                                         spawned: list[ServerProcess]) -> None:
    server = ServerProcess(tmp_path / "k.db")
    spawned.append(server)
    async with trio.open_nursery() as nursery:
        await server.start(nursery)
        async with httpx.AsyncClient(base_url=server.external_url) as ext:
            with trio.fail_after(10):
                for _ in range(100):
                    assert (await ext.get("/healthz")).status_code == 200
                for _ in range(10):
                    assert (await ext.post("/nope", json={"a": 1})).status_code == 404
                    assert (await ext.post("/healthz", json={"a": 1})).status_code == 405
                assert (await ext.get("/healthz")).status_code == 200
        assert await server.stop() == 0
        nursery.cancel_scope.cancel()
