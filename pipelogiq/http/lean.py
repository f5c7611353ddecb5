"""A small ASGI app for the external API: routes by method and exact path, nothing else.

The external API is machine-to-machine and on every stage hop (a pull, an ack, a pipeline
created), and its routes are all fixed paths with JSON bodies; Quart's request and context
machinery was about a third of the cost of each of those requests (BENCHMARKS.md). This keeps
what the API relies on and no more: the whole body read first (at most `MAX_BODY`, else 413,
so a keep-alive connection stays in step), a request id (taken from `X-Request-Id` when sane,
echoed back, on every log line), 404/405 with `Allow`, automatic HEAD and OPTIONS, errors
rendered by the app's renderer, and the ASGI lifespan. Hypercorn still serves it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import attrs

from pipelogiq.http.errors import ApiError
from pipelogiq.observability.logs import request_id
from pipelogiq.store.base import StoreError

MAX_BODY = 1024 * 1024  # SPEC §4: bodies over 1 MiB are 413

log = logging.getLogger("pipelogiq.http")


class Headers:
    """Request headers, case-insensitive; the first value of a repeated header."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._h: dict[str, str] = {}
        for name, value in raw:
            self._h.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._h.get(name.lower(), default)


@attrs.frozen
class Request:
    method: str
    path: str
    headers: Headers
    args: dict[str, str]
    body: bytes
    client: str | None


@attrs.frozen
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Reply]]
Renderer = Callable[[int, str], Reply]


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data, separators=(",", ":")).encode(), "application/json")


def text_reply(status: int, message: str) -> Reply:
    return Reply(status, (message + "\n").encode(), "text/plain; charset=utf-8")


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client disconnected before its request was whole: nobody to answer."""


class LeanApp:
    def __init__(self, render: Renderer) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}
        self._render = render

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.setdefault(path, {})[method] = handler
            return handler
        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("POST", path)

    def routes(self) -> Iterator[tuple[str, str]]:
        """(path, method) of every route (HEAD and OPTIONS come with them)."""
        for path, methods in self._routes.items():
            for method in methods:
                yield path, method

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = Headers(scope["headers"])
        given = headers.get("x-request-id") or ""
        ok = 0 < len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum()
        rid = given if ok else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            reply = await self._answer(scope, headers, receive)
        except _Gone:
            return
        finally:
            request_id.reset(token)
        out = [(b"x-request-id", rid.encode())]
        if reply.content_type is not None:
            out.append((b"content-type", reply.content_type.encode()))
        out += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        body = b"" if scope["method"] == "HEAD" else reply.body
        out.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: dict[str, Any], headers: Headers, receive: Any) -> Reply:
        try:
            body = await _read_body(headers, receive)
        except _TooLarge:
            return self._render(413, f"request body larger than {MAX_BODY} bytes")
        methods = self._routes.get(scope["path"])
        method = scope["method"]
        if methods is None:
            return self._render(404, "The requested URL was not found on the server.")
        allowed = sorted({*methods, "OPTIONS", *(["HEAD"] if "GET" in methods else [])})
        if method == "OPTIONS":
            return Reply(200, headers=(("Allow", ", ".join(allowed)),))
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            reply = self._render(405, "The method is not allowed for the requested URL.")
            return attrs.evolve(reply, headers=(("Allow", ", ".join(allowed)),))
        client = scope.get("client")
        args: dict[str, str] = {}
        for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            args.setdefault(k, v)  # the first of a repeated parameter
        request = Request(method, scope["path"], headers, args, body,
                          client[0] if client else None)
        try:
            return await handler(request)
        except (ApiError, StoreError) as exc:
            return self._render(exc.status, exc.message)
        except Exception as exc:
            log.error("unhandled error on %s %s", method, scope["path"], exc_info=exc)
            return self._render(500, "internal error")


async def _read_body(headers: Headers, receive: Any) -> bytes:
    """The whole body (the keep-alive connection stays in step), at most MAX_BODY."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
