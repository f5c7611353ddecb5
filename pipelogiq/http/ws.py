"""`/ws`: live pipeline frames for the dashboard."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import trio
from quart import Response, websocket
from quart_trio import QuartTrio

from pipelogiq.actors.hub import Subscription
from pipelogiq.http.common import json_error
from pipelogiq.http.errors import ApiError
from pipelogiq.http.user_auth import COOKIE, User, user_from_token
from pipelogiq.services import Services

log = logging.getLogger("pipelogiq.ws")

# The user's applications (and that the session is still valid) are re-read at most this
# often, lazily on the next frame: membership changes show within seconds without a
# database read per frame. A session that ended (user disabled, token expired) closes 1008.
USER_REFRESH = 5.0

GOING_AWAY = 1001  # server shutdown
POLICY_VIOLATION = 1008  # the session ended
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013  # too slow: the hub dropped this subscriber


async def _user(services: Services, token: str | None) -> User | None:
    """The socket's user (a websocket has no `request`): None if not logged in."""
    try:
        return await user_from_token(services, token)
    except ApiError:
        return None


def _foreign_origin() -> bool:
    """Cross-site WebSocket hijacking: a page of another site opening our socket with the
    user's cookie. Browsers always send Origin on a websocket; non-browser clients may not."""
    origin = websocket.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc != websocket.host


class _Socket:
    """One accepted socket: pumps frames of the user's pipelines until it must close."""

    def __init__(self, services: Services, token: str, user: User, sub: Subscription) -> None:
        self._services = services
        self._token = token
        self._user: User | None = user
        self._loaded_at = trio.current_time()
        self._sub = sub
        self._waiting = trio.CancelScope()
        self._stop: tuple[int, str] | None = None

    async def run(self) -> None:
        code, reason = INTERNAL_ERROR, "internal error"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._discard_incoming)
                nursery.start_soon(self._watch_closing)
                code, reason = await self._pump()
                nursery.cancel_scope.cancel()
        except* Exception:  # e.g. the store failed: say so (1011), not a normal closure
            log.exception("/ws: closing a socket after an error")
        await websocket.close(code, reason)

    async def _discard_incoming(self) -> None:
        # Nothing is expected from the client, but unread messages would fill Quart's
        # buffer and hide the client's disconnect behind them.
        while True:
            await websocket.receive()

    async def _watch_closing(self) -> None:
        await self._services.closing.wait()
        self._stop = (GOING_AWAY, "server shutting down")
        self._waiting.cancel()

    async def _pump(self) -> tuple[int, str]:
        while self._stop is None:
            # Only waiting and reading are cancelled by shutdown; a frame being sent is
            # finished (Hypercorn shields the write anyway), so the close follows whole frames.
            frame = None
            with trio.CancelScope() as self._waiting:
                try:
                    pipeline_id = await self._sub.receive()
                except trio.EndOfChannel:
                    if self._sub.dropped:
                        return TRY_AGAIN_LATER, "too slow: reconnect and reload"
                    return GOING_AWAY, "server shutting down"
                frame = await self._frame(pipeline_id)
            if frame is not None and self._stop is None:
                await websocket.send(frame)
        return self._stop

    async def _frame(self, pipeline_id: int) -> str | None:
        if trio.current_time() - self._loaded_at >= USER_REFRESH:
            self._user = await _user(self._services, self._token)
            self._loaded_at = trio.current_time()
        if self._user is None:
            self._stop = (POLICY_VIOLATION, "session ended; log in again")
            return None
        doc = await self._services.store.pipeline_json(pipeline_id)
        if doc is None or doc["applicationId"] not in self._user.application_ids:
            return None
        return json.dumps({"type": "pipeline", "pipeline": doc}, separators=(",", ":"))


def add_ws_route(app: QuartTrio, services: Services) -> None:
    """Register `/ws` on the internal app."""

    @app.websocket("/ws")
    async def ws() -> Response | None:
        """Owns one dashboard socket: a frame `{"type": "pipeline", "pipeline": {...}}` (the
        SPEC §4.1 JSON, read when sent, so queued changes of a pipeline make one frame) for
        each change the hub reports of a pipeline of the user's applications.

        A foreign Origin is refused with 403 and a missing or invalid `authKey` cookie with
        401, both before the handshake. The socket closes with 1001 when `services.closing`
        is set (Hypercorn does not close websockets itself), 1013 when the hub dropped it as
        too slow (the client reconnects), 1008 when the session ended, 1011 after an error
        (logged). A client that leaves cancels the handler (Quart 0.22); the subscription is
        released in any case."""
        if _foreign_origin():
            return json_error(403, "cross-origin websocket refused")
        token = websocket.cookies.get(COOKIE)
        user = await _user(services, token)
        if user is None or token is None:
            return json_error(401, "not logged in")
        # Subscribed before the handshake completes: a client sees every change made after
        # its connect returned.
        with services.hub.subscription() as sub:
            await websocket.accept()
            await _Socket(services, token, user, sub).run()
        return None
