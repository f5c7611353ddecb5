"""HTTP/1.1 for the external API: h11 on Trio streams, one task per connection.

Hypercorn spent about 1.3 ms of CPU on each request here before the app saw it, three times
what the same h11 parsing costs when driven directly (BENCHMARKS.md), and the external API is
on every stage hop. So this server does only what the external API needs, with h11 (the
parser Hypercorn uses) for the protocol: keep-alive (idle connections close after
`KEEP_ALIVE` s), pipelined requests in order, `Expect: 100-continue`, HEAD, request heads of
at most `MAX_HEAD` bytes (else 431/400), bodies of at most `MAX_BODY` (413; a refused body of
up to `DRAIN_MAX` is read and dropped so the connection stays usable), `READ_TIMEOUT` for a
request's head and body to arrive, a request id per request (`X-Request-Id`, echoed, on every
log line), a handler cancelled when its client disconnects (a long poll then stops waiting),
and a graceful shutdown: no new connections, idle ones closed, requests in flight get
`graceful_timeout` s. The dashboard API stays on Hypercorn + Quart-Trio.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import parse_qsl

import attrs
import h11
import trio

from pipelogiq.config import format_addr
from pipelogiq.http.lean import MAX_BODY, Headers, LeanApp, Reply, Request
from pipelogiq.observability.logs import request_id, request_id_for

KEEP_ALIVE = 5.0
READ_TIMEOUT = 60.0
MAX_HEAD = 16 * 1024
DRAIN_MAX = 16 * MAX_BODY
RECEIVE = 64 * 1024

log = logging.getLogger("pipelogiq.http")


class _Close(Exception):
    """The connection ends here: the client left, timed out, or cannot be answered."""


class _Date:
    """The `Date` header, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._value = now, email.utils.formatdate(now, usegmt=True).encode()
        return self._value


class H1Server:
    def __init__(self, app: LeanApp) -> None:
        self.app = app
        self.draining = False
        self._idle: set[trio.CancelScope] = set()
        self._date = _Date()

    def drain(self) -> None:
        """Shutting down: idle connections close now, busy ones after their request."""
        self.draining = True
        for scope in list(self._idle):
            scope.cancel()

    async def connection(self, stream: trio.abc.Stream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        client = _peer(stream)
        try:
            while not self.draining:
                head = await self._next_request(stream, conn)
                if head is None:
                    return
                await self._exchange(stream, conn, head, client)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return  # MUST_CLOSE (asked for, HTTP/1.0) or a body left unread
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = exc.error_status_hint if exc.error_status_hint >= 400 else 400
                reply = _closing(self.app.render(status, f"malformed HTTP request: {exc}"))
                await _quietly(self._send(stream, conn, reply, request_id_for(None), "GET"))
        except (_Close, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:  # a bug here must not take the other connections down
            log.exception("HTTP connection from %s failed", client)
        finally:
            with trio.move_on_after(1) as cleanup:
                cleanup.shield = True
                await _quietly(stream.aclose())

    async def _next_request(self, stream: trio.abc.Stream, conn: h11.Connection) -> h11.Request | None:
        """The next request's head; None when the connection should end (closed by the
        client, idle for `KEEP_ALIVE`, or the server is draining)."""
        event = conn.next_event()
        if event is h11.NEED_DATA:  # idle: wait for the client (not past KEEP_ALIVE or a drain)
            with trio.CancelScope(deadline=trio.current_time() + KEEP_ALIVE) as idle:
                self._idle.add(idle)
                try:
                    conn.receive_data(bytes(await stream.receive_some(RECEIVE)))
                finally:
                    self._idle.discard(idle)
            if idle.cancelled_caught:
                return None
            event = await _event(stream, conn)
        if isinstance(event, h11.Request):
            return event
        return None  # ConnectionClosed (or PAUSED: nothing more to answer)

    async def _exchange(self, stream: trio.abc.Stream, conn: h11.Connection,
                        head: h11.Request, client: str | None) -> None:
        headers = Headers(list(head.headers))
        method = head.method.decode("ascii")
        rid = request_id_for(headers.get("x-request-id"))
        body = await self._body(stream, conn, headers)
        if body is None:
            reply = self.app.render(413, f"request body larger than {MAX_BODY} bytes")
            if conn.their_state is not h11.DONE:  # not all of it read: the connection ends
                reply = _closing(reply)
            await self._send(stream, conn, reply, rid, method)
            return
        path, _, query = head.target.decode("latin-1").partition("?")
        args: dict[str, str] = {}
        for k, v in parse_qsl(query):
            args.setdefault(k, v)  # the first of a repeated parameter
        request = Request(method, path, headers, args, body, client)
        token = request_id.set(rid)
        try:
            respond = partial(self.app.respond, request)
            if self.app.waits(request):  # a long poll: stop waiting if the client leaves
                reply = await _unless_gone(stream, conn, respond)
            else:
                reply = await respond()
        finally:
            request_id.reset(token)
        await self._send(stream, conn, reply, rid, method)

    async def _body(self, stream: trio.abc.Stream, conn: h11.Connection,
                    headers: Headers) -> bytes | None:
        """The whole body, or None if it is over `MAX_BODY` (read and dropped up to
        `DRAIN_MAX` so the connection can go on; left unread beyond)."""
        length = headers.get("content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > MAX_BODY and (
                declared > DRAIN_MAX or conn.they_are_waiting_for_100_continue):
            return None
        if conn.they_are_waiting_for_100_continue:
            await stream.send_all(conn.send(h11.InformationalResponse(
                status_code=100, headers=[])))
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await _event(stream, conn)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > DRAIN_MAX:
                    return None
                if size <= MAX_BODY:
                    chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return None if size > MAX_BODY else b"".join(chunks)
            else:  # ConnectionClosed mid-body
                raise _Close

    async def _send(self, stream: trio.abc.Stream, conn: h11.Connection, reply: Reply,
                    rid: str, method: str) -> None:
        headers: list[tuple[bytes, bytes]] = [(b"x-request-id", rid.encode()),
                                              (b"date", self._date())]
        if reply.content_type is not None:
            headers.append((b"content-type", reply.content_type.encode()))
        if reply.status not in (204, 304):
            headers.append((b"content-length", str(len(reply.body)).encode()))
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        data = conn.send(h11.Response(status_code=reply.status, headers=headers))
        if reply.body and method != "HEAD" and reply.status not in (204, 304):
            data += conn.send(h11.Data(data=reply.body))
        data += conn.send(h11.EndOfMessage())
        await stream.send_all(data)


def _closing(reply: Reply) -> Reply:
    """`reply`, telling the client that the connection ends with it."""
    return attrs.evolve(reply, headers=(*reply.headers, ("Connection", "close")))


async def _event(stream: trio.abc.Stream, conn: h11.Connection,
                 ) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
    """The next event of the request being read; the rest of it must come within
    `READ_TIMEOUT` (checked only when it has to be waited for, the rare case)."""
    event = conn.next_event()
    if event is not h11.NEED_DATA:
        return event
    with trio.move_on_after(READ_TIMEOUT):
        while event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(RECEIVE)))
            event = conn.next_event()
        return event
    raise _Close  # too slow


async def _unless_gone(stream: trio.abc.Stream, conn: h11.Connection,
                       respond: Callable[[], Awaitable[Reply]]) -> Reply:
    """`respond()`, cancelled if the client disconnects meanwhile (then `_Close`). Bytes of a
    next, pipelined request that arrive meanwhile are kept for it."""
    gone = False
    reply: Reply | None = None
    async with trio.open_nursery() as nursery:
        async def watch() -> None:
            nonlocal gone
            while len(conn.trailing_data[0]) <= MAX_HEAD + MAX_BODY:
                try:
                    data = bytes(await stream.receive_some(RECEIVE))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""  # reset by the peer: gone all the same
                conn.receive_data(data)
                if not data:
                    gone = True
                    nursery.cancel_scope.cancel()
                    return

        nursery.start_soon(watch)
        reply = await respond()
        nursery.cancel_scope.cancel()
    if gone or reply is None:
        raise _Close
    return reply


async def _quietly(aw: Awaitable[None]) -> None:
    try:
        await aw
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
        pass


def _peer(stream: trio.abc.Stream) -> str | None:
    sock = getattr(stream, "socket", None)
    try:
        return str(sock.getpeername()[0]) if sock is not None else None
    except OSError:
        return None


async def serve_h1(
    app: LeanApp,
    addr: tuple[str, int],
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    graceful_timeout: float,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` on `addr` until `shutdown_trigger()` returns, then drain (see above).
    Reports the bound URL (`http://host:port`, the port filled in) when listening."""
    host, port = addr
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    server = H1Server(app)
    async with trio.open_nursery() as connections:
        accepting = trio.CancelScope()

        async def accept() -> None:
            with accepting:
                await trio.serve_listeners(server.connection, listeners,
                                           handler_nursery=connections)

        connections.start_soon(accept)
        task_status.started([f"http://{format_addr((bound[0], bound[1]))}"])
        await shutdown_trigger()
        accepting.cancel()
        for listener in listeners:
            await listener.aclose()
        server.drain()
        connections.cancel_scope.deadline = trio.current_time() + graceful_timeout
