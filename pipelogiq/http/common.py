"""What both HTTP apps share: body limits, error rendering, health and version routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from quart import Response, has_request_context, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.lean import MAX_BODY
from pipelogiq.observability.logs import request_id, request_id_for
from pipelogiq.services import Services
from pipelogiq.store.base import StoreError
from pipelogiq.version import version_info

log = logging.getLogger("pipelogiq.http")

ErrorRenderer = Callable[[int, str], Response]


def text_error(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def json_error(status: int, message: str) -> Response:
    code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            409: "conflict", 413: "payload_too_large", 429: "too_many_requests",
            503: "unavailable"}.get(status, "error")
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(body, status=status, content_type="application/json")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status,
                    content_type="application/json")


def make_app(name: str, render: ErrorRenderer) -> QuartTrio:
    app = QuartTrio(name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True

    @app.before_request
    async def tag_request() -> None:
        request_id.set(request_id_for(request.headers.get("X-Request-Id")))

    @app.after_request
    async def echo_request_id(response: Response) -> Response:
        rid = request_id.get()
        if rid is not None:
            response.headers["X-Request-Id"] = rid
        return response

    @app.before_request
    async def read_whole_body() -> None:
        # A response sent before the body was read (404, 405) left the rest of the body on
        # the keep-alive connection and the next request on it hung. Reading it first (at
        # most MAX_BODY, else 413) keeps the connection in step; handlers get it from cache.
        await request.get_data()

    @app.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> Response:
        return render(exc.status, exc.message)

    @app.errorhandler(StoreError)
    async def store_error(exc: StoreError) -> Response:
        return render(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = {413: f"request body larger than {MAX_BODY} bytes"}.get(
            status, exc.description or exc.name)
        return render(status, message)

    @app.errorhandler(Exception)
    async def crash(exc: Exception) -> Response:
        where = f"{request.method} {request.path}" if has_request_context() else "websocket"
        log.error("unhandled error on %s", where, exc_info=exc)
        return render(500, "internal error")

    return app


async def read_body() -> Body:
    raw = await request.get_data(as_text=False)
    return Body.parse(raw if isinstance(raw, bytes) else raw.encode())


async def readiness(services: Services) -> tuple[dict[str, Any], int]:
    """`/readyz`: the store and the broker answer, and the process is not shutting down."""
    try:
        await services.store.ping()
        await services.engine.broker.ping()
    except Exception as exc:  # readiness reports, it does not crash
        return {"status": "unavailable", "error": str(exc)}, 503
    if services.closing.is_set():
        return {"status": "shutting down"}, 503
    return {"status": "ready"}, 200


def add_health_routes(app: QuartTrio, services: Services) -> None:
    @app.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        return json_response(*await readiness(services))

    @app.get("/version")
    async def version() -> Response:
        return json_response(version_info())
