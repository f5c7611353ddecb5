"""A dynamic supervisor: one actor per key, spawned on the first message, gone when it exits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import trio

from pipelogiq.actors.supervisor import Restart, RestartBudgetExceeded, Supervisor

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")

log = logging.getLogger("pipelogiq.registry")

ActorFactory = Callable[[K, trio.MemoryReceiveChannel[M]], Awaitable[None]]


class Registry(Generic[K, M]):
    """Spawns actors in `nursery` on demand and restarts them when they crash (transient).

    Each actor's inbox holds one message: a rendezvous would make a sender wait for a busy
    actor, and for wake-up messages one queued is as good as many (`offer`).
    """

    def __init__(
        self,
        kind: str,
        factory: ActorFactory[K, M],
        nursery: trio.Nursery,
        *,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.kind = kind
        self._factory = factory
        self._nursery = nursery
        self._actors: dict[K, trio.MemorySendChannel[M]] = {}
        self._on_restart = on_restart
        self.restarts = 0

    def __len__(self) -> int:
        return len(self._actors)

    def __contains__(self, key: K) -> bool:
        return key in self._actors

    def _spawn(self, key: K) -> trio.MemorySendChannel[M]:
        send, recv = trio.open_memory_channel[M](1)
        self._actors[key] = send
        self._nursery.start_soon(self._run, key, send, recv, name=f"{self.kind}:{key}")
        return send

    async def _run(
        self, key: K, send: trio.MemorySendChannel[M], recv: trio.MemoryReceiveChannel[M]
    ) -> None:
        sup = Supervisor(f"{self.kind}:{key}", restart=Restart.TRANSIENT,
                         on_restart=self._on_restart)
        try:
            await sup.run(lambda: self._factory(key, recv))
        except RestartBudgetExceeded:
            # One key's actor keeps crashing: give up on it, not on the whole engine. The
            # store still holds its state; the next message (or the safety sweep) retries.
            log.exception("%s:%s gave up after repeated crashes", self.kind, key)
            leftovers_ok = False
        else:
            leftovers_ok = True
        finally:
            self.restarts += sup.restarts
            if self._actors.get(key) is send:
                del self._actors[key]
            leftovers = []
            while True:
                try:
                    leftovers.append(recv.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            recv.close()
            send.close()
        # A message that arrived while the actor was leaving goes to a fresh incarnation.
        for msg in leftovers if leftovers_ok else ():
            await self.send(key, msg)

    def offer(self, key: K, msg: M) -> None:
        """Deliver a wake-up without waiting; dropped when one is already queued."""
        ch = self._actors.get(key) or self._spawn(key)
        try:
            ch.send_nowait(msg)
        except trio.WouldBlock:
            pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._actors.pop(key, None)
            self._spawn(key).send_nowait(msg)

    async def send(self, key: K, msg: M) -> None:
        """Deliver a message that must not be lost, waiting while the inbox is full."""
        while True:
            ch = self._actors.get(key) or self._spawn(key)
            try:
                await ch.send(msg)
                return
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                if self._actors.get(key) is ch:
                    del self._actors[key]
