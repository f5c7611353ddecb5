"""Pipelines on the internal API: list, detail, create, and the operator actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.http.common import json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_pipelines import apply_bulk
from pipelogiq.http.job_input import parse_time
from pipelogiq.http.pipeline_input import parse_new_pipeline
from pipelogiq.http.user_auth import User, current_user
from pipelogiq.services import Services
from pipelogiq.store.base import PipelineQuery

STATUSES = {"NotStarted", "Running", "Completed", "Failed", "Cancelled"}


def _query(user: User) -> PipelineQuery:
    args = request.args
    try:
        page = int(args.get("pageNumber", 1))
        size = int(args.get("pageSize", 20))
    except ValueError:
        raise ApiError(400, "pageNumber and pageSize must be integers") from None
    if page < 1 or not 1 <= size <= 200:
        raise ApiError(400, "pageNumber must be >= 1 and pageSize between 1 and 200")
    apps = list(user.application_ids)
    if "applicationId" in args:
        wanted = args.get("applicationId", type=int)
        apps = [a for a in apps if a == wanted]
    statuses = args.getlist("statuses")
    if unknown := set(statuses) - STATUSES:
        raise ApiError(400, f"statuses: unknown {sorted(unknown)}")
    context = []
    for item in args.getlist("context"):
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ApiError(400, "context: expected key:value")
        context.append((key, value))

    def when(name: str) -> float | None:
        value = args.get(name)
        return parse_time(value, name, 0.0) if value else None

    return PipelineQuery(
        application_ids=apps, page_number=page, page_size=size, search=args.get("search") or None,
        statuses=statuses, keywords=args.getlist("keywords"), context=context,
        start_from=when("pipelineStartFrom"), start_to=when("pipelineStartTo"),
        end_from=when("pipelineEndFrom"), end_to=when("pipelineEndTo"),
    )


def add_pipeline_routes(app: QuartTrio, services: Services) -> None:
    store, engine = services.store, services.engine

    @app.get("/api/pipelines")
    async def list_pipelines() -> Response:
        user = await current_user(services)
        return json_response(await store.list_pipelines(_query(user)))

    @app.get("/api/pipelines/<int(max=9223372036854775807):pipeline_id>")
    async def pipeline(pipeline_id: int) -> Response:
        user = await current_user(services)
        doc = await store.pipeline_json(pipeline_id, with_logs=True)
        if doc is None or doc["applicationId"] not in user.application_ids:
            raise ApiError(404, f"pipeline {pipeline_id} not found")
        return json_response(doc)

    @app.post("/api/pipelines")
    async def create_pipeline() -> Response:
        user = await current_user(services)
        body = await read_body()
        app_id = body.integer("applicationId", lo=1)
        if app_id is None or app_id not in user.application_ids:
            raise ApiError(404 if app_id else 400, "applicationId: not one of your applications")
        _, created, doc = await engine.create_pipeline(parse_new_pipeline(body, app_id))
        return json_response(doc, 201 if created else 200)

    def action(path: str, field: str, run: Callable[[User, int, bool], Awaitable[int]]) -> None:
        async def handler() -> Response:
            user = await current_user(services)
            body = await read_body()
            if body.has(f"{field}s"):  # the bulk form, answered per item
                return await apply_bulk(services, user, body, f"{field}s", run)
            target = body.integer(field, lo=1)
            if target is None:
                raise ApiError(400, f"{field} is required")
            pid = await run(user, target, bool(body.boolean("rerunAllNextStages")))
            engine.kick(pid)
            engine.changed(pid)
            return json_response(await store.pipeline_json(pid))

        handler.__name__ = f"action_{path}"
        app.post(f"/api/pipelines/{path}")(handler)

    action("rerunStage", "stageId",
           lambda u, sid, all_next: store.rerun(sid, all_next, u.label, u.application_ids))
    action("skipStage", "stageId",
           lambda u, sid, _: store.skip(sid, u.label, u.application_ids))
    action("cancel", "pipelineId",
           lambda u, pid, _: store.cancel(pid, u.label, u.application_ids))
    action("retryNow", "stageId",
           lambda u, sid, _: store.retry_now(sid, u.label, u.application_ids))
