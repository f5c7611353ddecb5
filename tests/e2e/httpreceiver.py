"""A tiny HTTP/1.1 receiver for tests that need a real remote (webhooks, connection tests):
h11 over a Trio socket on 127.0.0.1. One request per connection."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import attrs
import h11
import trio


@attrs.frozen
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def read_request(stream: trio.SocketStream) -> tuple[h11.Connection, Request] | None:
    """The whole request on `stream`, or None when the client left or sent something odd."""
    conn = h11.Connection(h11.SERVER)
    head: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:
            return None
    assert head is not None
    return conn, Request(head.method.decode(), head.target.decode(),
                         {k.decode().lower(): v.decode() for k, v in head.headers}, body)


async def respond(stream: trio.SocketStream, conn: h11.Connection, status: int) -> None:
    """An empty answer with `status`, then close."""
    await stream.send_all(conn.send(h11.Response(
        status_code=status, headers=[("content-length", "0"), ("connection", "close")])))
    await stream.send_all(conn.send(h11.EndOfMessage()))
    await stream.aclose()


async def serve(nursery: trio.Nursery,
                handle: Callable[[trio.SocketStream], Awaitable[None]]) -> int:
    """Serve `handle` on 127.0.0.1 on a free port until the nursery ends; returns the port."""
    listeners = await nursery.start(functools.partial(trio.serve_tcp, handle, 0,
                                                      host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])
