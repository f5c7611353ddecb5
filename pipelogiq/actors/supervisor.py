"""Restart policies with backoff and a restart budget, in the manner of OTP supervisors."""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger("pipelogiq.supervisor")


class Restart(enum.Enum):
    PERMANENT = "permanent"  # always restarted, also after a normal exit
    TRANSIENT = "transient"  # restarted only after a crash
    TEMPORARY = "temporary"  # never restarted


class RestartBudgetExceeded(Exception):
    """A child crashed more often than the budget allows: the failure moves up a level."""


class Supervisor:
    """Runs one child under a restart policy. Counts restarts for the metrics."""

    def __init__(
        self,
        name: str,
        *,
        restart: Restart = Restart.TRANSIENT,
        backoff: tuple[float, float] = (0.05, 5.0),
        max_restarts: int = 10,
        window: float = 60.0,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.restart = restart
        self.backoff = backoff
        self.max_restarts = max_restarts
        self.window = window
        self.restarts = 0
        self._on_restart = on_restart

    async def run(self, child: Callable[[], Awaitable[None]]) -> None:
        """Run `child` until it ends under the policy; a crash past the budget is re-raised."""
        recent: deque[float] = deque()
        delay = self.backoff[0]
        while True:
            started = trio.current_time()
            crash: Exception | None = None
            try:
                await child()
            except Exception as exc:
                crash = exc
                if self.restart is Restart.TEMPORARY:
                    log.exception("%s crashed (temporary: not restarted)", self.name)
                    return
            if crash is None and self.restart is not Restart.PERMANENT:
                return
            now = trio.current_time()
            if now - started > self.window:  # a long healthy run: start the backoff afresh
                delay = self.backoff[0]
            recent.append(now)
            while recent and recent[0] < now - self.window:
                recent.popleft()
            if len(recent) > self.max_restarts:
                raise RestartBudgetExceeded(
                    f"{self.name} restarted {len(recent)} times in {self.window:g}s"
                ) from crash
            if crash is not None:
                log.warning("%s crashed, restarting in %.2fs: %r", self.name, delay, crash,
                            exc_info=crash)
            self.restarts += 1
            if self._on_restart:
                self._on_restart(self.name)
            await trio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])
