"""Read-only views on the internal API: keyword filters, application logs, and one worker's
detail, events and heartbeats (the worker list is in `internal.py`). All scoped to the
user's applications; `?applicationId=` of another application is 404."""

from __future__ import annotations

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.http.common import json_response
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import int_arg, scoped_apps, worker_id_arg
from pipelogiq.http.job_input import LEVELS
from pipelogiq.http.user_auth import current_user
from pipelogiq.services import Services

MAX_PAGE = 200
MAX_HISTORY = 1000


def _levels() -> list[str]:
    """Repeated or comma-separated `level`, case-insensitive (`warn`, `Warning`, …)."""
    out = []
    for raw in request.args.getlist("level"):
        for name in filter(None, (p.strip() for p in raw.split(","))):
            if name.lower() not in LEVELS:
                raise ApiError(400, f"level: unknown log level {name!r}")
            out.append(LEVELS[name.lower()])
    return sorted(set(out))


def add_read_routes(app: QuartTrio, services: Services) -> None:
    store = services.store
    offline_after = services.settings.worker_offline_after

    @app.get("/api/keywords")
    async def keywords() -> Response:
        """`[{key, values:[…], truncated?}]`: each key with its distinct values."""
        user = await current_user(services)
        return json_response(await store.keyword_values(scoped_apps(user)))

    @app.get("/api/logs")
    async def application_logs() -> Response:
        """Application logs (`POST /logs` of the external API), newest first, paged."""
        user = await current_user(services)
        apps = scoped_apps(user)
        page = int_arg("pageNumber", 1)
        size = int_arg("pageSize", 50, hi=MAX_PAGE)
        search = (request.args.get("search") or "").strip() or None
        return json_response(await store.application_logs(apps, page, size, _levels(), search))

    @app.get("/api/workers/<worker_id>")
    async def worker(worker_id: str) -> Response:
        user = await current_user(services)
        return json_response(await store.worker_detail(
            worker_id_arg(worker_id), user.application_ids, offline_after))

    @app.get("/api/workers/<worker_id>/events")
    async def worker_events(worker_id: str) -> Response:
        """The latest `limit` (default 100, at most 1000) events, newest first."""
        user = await current_user(services)
        limit = int_arg("limit", 100, hi=MAX_HISTORY)
        return json_response(await store.worker_events(
            worker_id_arg(worker_id), user.application_ids, limit))

    @app.get("/api/workers/<worker_id>/heartbeats")
    async def worker_heartbeats(worker_id: str) -> Response:
        """The latest `limit` (default 100, at most 1000) heartbeats, newest first."""
        user = await current_user(services)
        limit = int_arg("limit", 100, hi=MAX_HISTORY)
        return json_response(await store.worker_heartbeats(
            worker_id_arg(worker_id), user.application_ids, limit))
