"""Pipelines on the internal API, beyond list/detail/create: stages, context, log lines,
deletion, and the bulk forms of the operator actions (SPEC §3.10, §7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Response
from quart_trio import QuartTrio

from pipelogiq.http.body import MAX_INT, Body
from pipelogiq.http.common import json_response
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import int_arg
from pipelogiq.http.user_auth import User, current_user
from pipelogiq.services import Services
from pipelogiq.store.base import StoreError

ID = "int(max=9223372036854775807)"
MAX_BULK = 500
MAX_LOG_LINES = 10_000

Action = Callable[[User, int, bool], Awaitable[int]]


async def apply_bulk(services: Services, user: User, body: Body, field: str,
                     run: Action) -> Response:
    """The bulk form of an operator action, `{field: [ids]}` (plus `rerunAllNextStages`):
    every id is validated first (a bad one is 400 and nothing is applied), then each is
    applied on its own — one refused does not stop the others — and answered per item, in
    order: `{results: [{id, status: 200|404|409, message?}]}`."""
    raw = body.array(field, required=True, max_items=MAX_BULK) or []
    if not raw:
        raise ApiError(400, f"{field}: give at least one id")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_INT
               for i in raw):
        raise ApiError(400, f"{field}: expected an array of positive integer ids")
    all_next = bool(body.boolean("rerunAllNextStages"))
    results: list[dict[str, Any]] = []
    for target in raw:
        try:
            pid = await run(user, target, all_next)
        except StoreError as exc:
            results.append({"id": target, "status": exc.status, "message": exc.message})
            continue
        services.engine.kick(pid)
        services.engine.changed(pid)
        results.append({"id": target, "status": 200})
    return json_response({"results": results})


def add_admin_pipeline_routes(app: QuartTrio, services: Services) -> None:
    store = services.store

    @app.get(f"/api/pipelines/<{ID}:pipeline_id>/stages")
    async def pipeline_stages(pipeline_id: int) -> Response:
        user = await current_user(services)
        doc = await store.pipeline_json(pipeline_id, with_logs=True)
        if doc is None or doc["applicationId"] not in user.application_ids:
            raise ApiError(404, f"pipeline {pipeline_id} not found")
        return json_response(doc.get("stages", []))

    @app.get(f"/api/pipelines/<{ID}:pipeline_id>/context")
    async def pipeline_context(pipeline_id: int) -> Response:
        user = await current_user(services)
        return json_response(await store.pipeline_context(pipeline_id, user.application_ids))

    async def log_lines(pipeline_id: int, stage_id: int | None) -> Response:
        user = await current_user(services)
        after = int_arg("afterId", 0, lo=0)
        limit = int_arg("limit", 1000, hi=MAX_LOG_LINES)
        return json_response(await store.pipeline_log_lines(
            pipeline_id, stage_id, user.application_ids, after, limit))

    @app.get(f"/api/pipelines/logs/<{ID}:pipeline_id>")
    async def pipeline_logs(pipeline_id: int) -> Response:
        return await log_lines(pipeline_id, None)

    @app.get(f"/api/pipelines/logs/<{ID}:pipeline_id>/<{ID}:stage_id>")
    async def stage_logs(pipeline_id: int, stage_id: int) -> Response:
        return await log_lines(pipeline_id, stage_id)

    @app.delete(f"/api/pipelines/<{ID}:pipeline_id>")
    async def delete_pipeline(pipeline_id: int) -> Response:
        user = await current_user(services)
        await store.delete_pipeline(pipeline_id, user.application_ids)
        return json_response({"id": pipeline_id, "deleted": True})

