"""Shutdown: waiting long polls are answered (204) at once, then the server returns.
(The SIGTERM → shutdown path of the real process is covered by the crash test's stop().)"""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
import trio
import trio.testing

from conftest import Api, make_settings
from pipelogiq.app import Running, run_server


async def test_shutdown_answers_long_polls_at_once(tmp_path: Path) -> None:
    closing = trio.Event()
    answers: list[int] = []
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(functools.partial(
            run_server, make_settings(tmp_path), closing=closing))
        async with httpx.AsyncClient(base_url=running.internal_url) as internal, \
                httpx.AsyncClient(base_url=running.external_url, timeout=60) as ext:
            api = await Api(running, internal, ext).setup()

            async def long_poll() -> None:
                answers.append((await api.pull("idle", wait=25)).status_code)

            async with trio.open_nursery() as polls:
                polls.start_soon(long_poll)
                await trio.testing.wait_all_tasks_blocked()  # the poll waits in its actor
                start = trio.current_time()
                closing.set()
        # run_server returned: the HTTP servers drained and the engine stopped.
    assert answers == [204]
    assert trio.current_time() - start < 10  # not the poll's 25 s
