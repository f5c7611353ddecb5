"""The asyncio sidecar: results, exceptions, cancellation and callbacks cross intact."""

from __future__ import annotations

import threading

import pytest
import trio

from pipelogiq.bridge.sidecar import CancelledOnLoop, Sidecar


async def test_results_and_exceptions_cross() -> None:
    async def add(a: int, b: int) -> int:
        return a + b

    async def boom() -> None:
        raise KeyError("x")

    async with Sidecar() as sc:
        assert await sc.run(add, 2, 3) == 5
        with pytest.raises(KeyError):
            await sc.run(boom)


async def test_cancelling_the_trio_caller_cancels_the_asyncio_task() -> None:
    seen: list[str] = []
    started = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await sc.loop.create_future()
        except CancelledOnLoop:
            seen.append("cancelled")
            raise

    async with Sidecar() as sc:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as n:
                async def cancel_when_started() -> None:
                    await trio.to_thread.run_sync(started.wait)
                    scope.cancel()

                n.start_soon(cancel_when_started)
                await sc.run(forever)
        assert scope.cancelled_caught
    assert seen == ["cancelled"]


async def test_callbacks_reach_trio_and_spawn_runs() -> None:
    send, recv = trio.open_memory_channel[int](4)

    async def notify(value: int) -> None:
        sc.to_trio(send.send_nowait, value)

    async with Sidecar() as sc:
        sc.spawn(notify, 7)
        assert await recv.receive() == 7
