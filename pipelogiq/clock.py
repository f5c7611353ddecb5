"""The one injected clock. Wall times written to the database come from here, never from the
database's `now()`, so tests control them; `TrioClock` follows Trio's clock (and so
`autojump_clock`), `SystemClock` the system's."""

from __future__ import annotations

import time
from typing import Protocol

import trio


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def trio_deadline(self, wall: float) -> float:
        """The Trio deadline for a wall time, for `trio.move_on_at` / cancel scopes."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def trio_deadline(self, wall: float) -> float:
        return trio.current_time() + (wall - time.time())


class TrioClock:
    """Wall time derived from Trio's clock: with `autojump_clock` it jumps with it."""

    def __init__(self, epoch: float = 1_800_000_000.0) -> None:
        self._offset = epoch - trio.current_time()

    def now(self) -> float:
        return trio.current_time() + self._offset

    def trio_deadline(self, wall: float) -> float:
        return wall - self._offset
