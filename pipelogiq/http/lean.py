"""A small app for the external API: routes by method and exact path, nothing else.

The external API is machine-to-machine and on every stage hop (a pull, an ack, a pipeline
created), and its routes are all fixed paths with JSON bodies; Quart's request and context
machinery was about a third of the cost of each of those requests (BENCHMARKS.md). This keeps
what the API relies on and no more: 404/405 with `Allow`, automatic HEAD and OPTIONS, errors
rendered by the app's renderer. `http/h1.py` serves it (whole body first, at most `MAX_BODY`;
request ids; keep-alive; graceful shutdown).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import attrs

from pipelogiq.http.errors import ApiError
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


class LeanApp:
    def __init__(self, render: Renderer) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}
        self._waiting: set[tuple[str, str]] = set()
        self.render = render

    def route(self, method: str, path: str, *, waits: bool = False) -> Callable[[Handler], Handler]:
        """`waits`: the handler may wait long (a long poll); the server then watches the
        connection meanwhile and cancels the handler if the client leaves."""
        def register(handler: Handler) -> Handler:
            self._routes.setdefault(path, {})[method] = handler
            if waits:
                self._waiting.add((method, path))
            return handler
        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("GET", path)

    def post(self, path: str, *, waits: bool = False) -> Callable[[Handler], Handler]:
        return self.route("POST", path, waits=waits)

    def waits(self, request: Request) -> bool:
        return (request.method, request.path) in self._waiting

    def routes(self) -> Iterator[tuple[str, str]]:
        """(path, method) of every route (HEAD and OPTIONS come with them)."""
        for path, methods in self._routes.items():
            for method in methods:
                yield path, method

    async def respond(self, request: Request) -> Reply:
        """The answer to a whole request: its route's, or 404/405/OPTIONS, or the error."""
        methods = self._routes.get(request.path)
        if methods is None:
            return self.render(404, "The requested URL was not found on the server.")
        allowed = sorted({*methods, "OPTIONS", *(["HEAD"] if "GET" in methods else [])})
        if request.method == "OPTIONS":
            return Reply(200, headers=(("Allow", ", ".join(allowed)),))
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            reply = self.render(405, "The method is not allowed for the requested URL.")
            return attrs.evolve(reply, headers=(("Allow", ", ".join(allowed)),))
        try:
            return await handler(request)
        except (ApiError, StoreError) as exc:
            return self.render(exc.status, exc.message)
        except Exception as exc:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
            return self.render(500, "internal error")
