"""Messages between actors: frozen records, dispatched with `match`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs
import trio

from pipelogiq.domain import Delivered, StageState

T = TypeVar("T")


@attrs.frozen
class Kick:
    """Something about this pipeline changed. With `states`: that is all that changed, these
    stages are now as given (committed); without: re-read the pipeline from the store."""

    states: tuple[StageState, ...] = ()


@attrs.frozen
class Seen:
    """A worker showed a sign of life at wall time `at`."""

    at: float


@attrs.define
class Pull:
    """A long-poll waiter. Answered exactly once, with jobs or with [] at its deadline.

    `gone` is set by the caller when it leaves early (`leave()`), so the actor skips it; the
    actor's `poke` makes it look at once (it stops wanting jobs for a puller that left).
    """

    max_jobs: int
    deadline: float  # trio time
    worker_id: str | None
    reply: trio.MemorySendChannel[list[Delivered]]
    gone: bool = False
    poke: Callable[[], None] | None = None

    def leave(self) -> None:
        self.gone = True
        if self.poke is not None:
            self.poke()


def drain(inbox: trio.MemoryReceiveChannel[T]) -> list[T]:
    """Take what is queued without waiting: an actor about to re-read the store from scratch
    has answered every wake-up sent before it (left unread, the registry would hand them to
    a fresh incarnation when this one exits)."""
    out = []
    while True:
        try:
            out.append(inbox.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out
