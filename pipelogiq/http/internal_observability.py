"""Internal API routes: observability (SPEC §8) — integration configs (OpenTelemetry,
alerting, Grafana, log link templates), their status and connection tests, traces with deep
links, and insights (slowest stages, error hotspots, throughput).

Every logged-in user reads configs (secrets masked) and status; only an Admin changes a config
or runs a connection test (it sends a real request, e.g. a test alert). Traces and insights are
scoped to the user's applications.
"""

from __future__ import annotations

from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq import integrations as intg
from pipelogiq.http.body import Body
from pipelogiq.http.common import json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_pipelines import STATUSES
from pipelogiq.http.internal_policies import application_arg, duration_arg, page_args
from pipelogiq.http.user_auth import User, current_user
from pipelogiq.services import Services
from pipelogiq.store.observability_store import TraceQuery

INSIGHTS_MAX_RANGE = 30 * 86400.0


async def _admin(services: Services) -> User:
    user = await current_user(services)
    if user.role != "Admin":
        raise ApiError(403, "only an Admin can change integrations or test them")
    return user


def _kind(body: Body, kinds: tuple[str, ...]) -> str:
    kind = body.string("kind", max_len=100) or body.string("type", max_len=100)
    if kind is None:
        raise ApiError(400, "kind is required")
    if kind not in kinds:
        raise ApiError(400, f"kind: must be one of {', '.join(kinds)}")
    return kind


def _status_json(state: intg.IntegrationState) -> dict[str, Any]:
    configured = intg.is_configured(state.kind, state.config)
    enabled = configured and (state.kind == "logs" or bool((state.config or {}).get("enabled")))
    return {"kind": state.kind, "configured": configured, "enabled": enabled,
            "testable": state.kind in intg.TESTABLE, "lastTest": state.last_test}


def _with_links(items: list[dict[str, Any]], templates: dict[str, str]) -> list[dict[str, Any]]:
    links = {"traceUrl": templates.get("traceLinkTemplate"),
             "logsUrl": templates.get("logsLinkTemplate")}
    for item in items:
        for key, template in links.items():
            if template:
                item[key] = intg.render(template, traceId=item["traceId"],
                                        pipelineId=item["pipelineId"],
                                        applicationId=item["applicationId"])
    return items


def add_observability_routes(app: QuartTrio, services: Services) -> None:
    """Register the observability routes on the internal app."""
    store = services.store

    @app.get("/api/observability/config")
    async def get_config() -> Response:
        await current_user(services)
        states = await store.integration_states()
        return json_response({"integrations": [states[k].public_json() for k in intg.KINDS]})

    @app.put("/api/observability/config")
    async def put_config() -> Response:
        await _admin(services)
        body = await read_body()
        kind = _kind(body, intg.KINDS)
        if body.raw("config") is None:
            raise ApiError(400, "config is required")
        try:
            state = await store.save_integration_config(kind, body.raw("config"))
        except intg.IntegrationError as exc:
            raise ApiError(400, exc.message) from None
        if kind == "alerting":
            services.alerter.config_changed()
        return json_response(state.public_json())

    @app.get("/api/observability/status")
    async def status() -> Response:
        await current_user(services)
        states = await store.integration_states()
        return json_response({"integrations": [_status_json(states[k]) for k in intg.KINDS]})

    @app.post("/api/observability/test")
    async def test_connection() -> Response:
        await _admin(services)
        kind = _kind(await read_body(), intg.TESTABLE)
        state = (await store.integration_states())[kind]
        if state.config is None or not intg.is_configured(kind, state.config):
            raise ApiError(400, f"{kind} is not configured; save its config first")
        result = (await intg.check_connection(kind, state.config, services.clock.now())).to_json()
        await store.record_integration_test(kind, result, state.updated_at)
        return json_response(result)

    @app.get("/api/observability/traces")
    async def traces() -> Response:
        user = await current_user(services)
        page, size = page_args(default_size=20)
        apps = application_arg(user)
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status: must be one of {', '.join(sorted(STATUSES))}")
        query = TraceQuery(
            application_ids=list(user.application_ids) if apps is None else apps,
            page_number=page, page_size=size, status=status,
            search=(request.args.get("search") or "").strip()[:200] or None)
        result = await store.list_traces(query)
        result["items"] = _with_links(result["items"], await store.link_templates())
        return json_response(result)

    @app.get("/api/observability/insights")
    async def insights() -> Response:
        user = await current_user(services)
        span = duration_arg("range", 86400.0, hi=INSIGHTS_MAX_RANGE)
        apps = application_arg(user)
        since = services.clock.now() - span
        return json_response(await store.observability_insights(
            user.application_ids if apps is None else apps, since))
