"""A worker's session with the external API: bootstrap, re-bootstrap on 401, backoff."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from ._errors import PipelogiqError
from ._wire import JSONDict, json_body, raise_for_status

log = logging.getLogger("pipelogiq.sdk.worker")

BodyFn = Callable[[], JSONDict]


def is_transient(exc: BaseException) -> bool:
    """Network failures, timeouts, 5xx, 408 and 429 are worth retrying; the rest is not."""
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, PipelogiqError):
        return exc.status_code >= 500 or exc.status_code in (408, 429)
    return False


class Backoff:
    """Exponential backoff with jitter: ``base * 2**n``, capped at ``cap`` seconds."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        delay = min(self.cap, self.base * 2.0**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    async def sleep(self) -> None:
        """Sleep for :meth:`next_delay` seconds."""
        await anyio.sleep(self.next_delay())

    def reset(self) -> None:
        """Forget past failures (after a success)."""
        self.failures = 0


class WorkerSession:
    """Holds the worker id and session token, and posts session-authenticated calls.

    A 401 on a session call re-bootstraps once (same ``instanceId``, so the same worker id and
    a new token) and repeats the call. Bootstrap with a rejected API key raises
    :class:`~pipelogiq.sdk.AuthError`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        bootstrap_body: JSONDict,
        *,
        backoff_base: float,
        backoff_max: float,
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._bootstrap_body = bootstrap_body
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._lock = anyio.Lock()
        self.worker_id: str = ""
        self.token: str = ""
        self.heartbeat_interval: float = 15.0
        self.info: JSONDict = {}
        self.bootstraps = 0

    def backoff(self) -> Backoff:
        """A fresh :class:`Backoff` with the session's timings."""
        return Backoff(self._backoff_base, self._backoff_max)

    async def bootstrap(self) -> None:
        """``POST /workers/bootstrap`` once; raises on any failure."""
        response = await self._http.post(
            "/workers/bootstrap",
            json=self._bootstrap_body,
            headers={"X-API-Key": self._api_key},
        )
        raise_for_status(response)
        data = json_body(response)
        worker_id, token = data.get("workerId"), data.get("workerSessionToken")
        if not worker_id or not token:
            raise PipelogiqError(
                response.status_code, f"bootstrap answer lacks a session: {data!r}"
            )
        self.worker_id, self.token, self.info = str(worker_id), str(token), data
        heartbeat = data.get("heartbeat")
        interval = heartbeat.get("intervalSec") if isinstance(heartbeat, dict) else None
        if isinstance(interval, int | float) and interval > 0:
            self.heartbeat_interval = float(interval)
        self.bootstraps += 1
        log.info("worker %s bootstrapped (session %d)", self.worker_id, self.bootstraps)

    async def bootstrap_until_done(self) -> None:
        """Bootstrap, retrying transient failures with backoff; auth and 4xx errors raise."""
        backoff = self.backoff()
        while True:
            try:
                await self.bootstrap()
                return
            except (httpx.TransportError, PipelogiqError) as exc:
                if not is_transient(exc):
                    raise
                log.warning("bootstrap failed (%s); retrying", exc)
                await backoff.sleep()

    async def refresh(self, stale_token: str) -> None:
        """Re-bootstrap after a 401, unless another task already replaced ``stale_token``."""
        async with self._lock:
            if self.token != stale_token:
                return
            log.warning("worker session rejected; bootstrapping again")
            await self.bootstrap()

    async def post(
        self, path: str, body: BodyFn, *, request_timeout: float | None = None
    ) -> httpx.Response:
        """POST ``body()`` with the session token; on 401 re-bootstrap and try once more.

        Returns the response whatever its status (callers decide what 401/404/409/5xx mean).
        Network failures raise :class:`httpx.TransportError`; a failed re-bootstrap raises
        (:class:`AuthError` when the API key itself is rejected).
        """
        extra: dict[str, Any] = {} if request_timeout is None else {"timeout": request_timeout}
        token = self.token
        response = await self._http.post(
            path, json=body(), headers={"X-Worker-Session": token}, **extra
        )
        if response.status_code != 401:
            return response
        await self.refresh(token)
        return await self._http.post(
            path, json=body(), headers={"X-Worker-Session": self.token}, **extra
        )
