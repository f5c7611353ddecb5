"""The asyncio sidecar: one asyncio loop on one thread, for the asyncio-only drivers.

asyncpg and aiormq run here (STACK.md §4.4); this is the only module that imports asyncio.
Trio code awaits `sidecar.run(corofn, *args)`; asyncio-side callbacks reach Trio only through
`sidecar.to_trio(fn, *args)`. Each crossing costs ~100 µs, so callers put a whole transaction
(the PostgreSQL store runs each store function in a greenlet on this loop) or a batch of
publishes in one coroutine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")

CANCEL_GRACE = 5.0  # how long a cancelled call may take to unwind on the asyncio side


class Sidecar:
    """An async context manager owned by the bridge that needs it (the composition root
    enters it before the store and the broker and leaves it after them)."""

    def __init__(self, name: str = "asyncio-sidecar") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._token: trio.lowlevel.TrioToken | None = None

    async def __aenter__(self) -> Sidecar:
        self._token = trio.lowlevel.current_trio_token()
        ready = threading.Event()

        def target() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                ready.set()
                await self._stop.wait()

            # The runner cancels leftover tasks on exit; a plain selector loop ignores any
            # event-loop policy another library may have installed.
            with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
                runner.run(main())

        self._thread = threading.Thread(target=target, name=self._name, daemon=True)
        self._thread.start()
        await trio.to_thread.run_sync(ready.wait)
        return self

    async def __aexit__(self, *exc: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._thread.join)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "the sidecar is not running"
        return self._loop

    async def run(self, corofn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await `corofn(*args)` on the asyncio loop. Cancelling the Trio caller cancels the
        asyncio task and waits (shielded, bounded) until it has unwound."""
        token = self._token
        assert token is not None
        done, unwound = trio.Event(), trio.Event()

        async def call() -> T:
            try:
                return await corofn(*args, **kwargs)
            finally:
                token.run_sync_soon(unwound.set)

        fut = asyncio.run_coroutine_threadsafe(call(), self.loop)
        fut.add_done_callback(lambda _: token.run_sync_soon(done.set))
        try:
            await done.wait()
        except BaseException:
            fut.cancel()
            with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_GRACE):
                await unwound.wait()
            raise
        return fut.result()

    def to_trio(self, fn: Callable[..., object], *args: Any) -> None:
        """Schedule `fn(*args)` on the Trio thread; call only from the asyncio thread."""
        assert self._token is not None
        self._token.run_sync_soon(fn, *args)

    def spawn(self, corofn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Fire and forget on the asyncio loop (e.g. an AMQP ack); keeps the task referenced."""
        def start() -> None:
            task = self.loop.create_task(_as_coroutine(corofn, *args))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self.loop.call_soon_threadsafe(start)


async def _as_coroutine(corofn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await corofn(*args)


CancelledOnLoop = asyncio.CancelledError
