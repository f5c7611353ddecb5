"""The OpenAPI 3 document of the internal API (served at /api/openapi.json).

One row per route: method, path, summary, request body schema, query parameters. A test checks
that it names every route the app serves and nothing else."""

from __future__ import annotations

import re
from typing import Any

from pipelogiq import __version__
from pipelogiq.http.openapi_external import CTX, INT, KV, STAGE_IN, B, S, _obj

ARR_INT = {"type": "array", "items": INT}
ARR_S = {"type": "array", "items": S}
ERROR = {"description": "error", "content": {"application/json": {"schema": _obj(
    {"error": _obj({"code": S, "message": S}, ["code", "message"])}, ["error"])}}}
OK = {"description": "ok", "content": {"application/json": {"schema": {}}}}

ACTION_STAGE = _obj({"stageId": INT, "stageIds": ARR_INT, "rerunAllNextStages": B})
POLICY = _obj({"name": S, "type": S, "applicationId": INT, "status": S,
               "rules": {"type": "object"}, "targeting": _obj({
                   "pipelines": ARR_S, "stages": ARR_S, "handlers": ARR_S, "tagsInclude": ARR_S,
                   "tagsExclude": ARR_S, "environment": S}), "description": S},
              ["name", "type", "rules"])
PAGE = ("pageNumber:integer", "pageSize:integer")
DEAD_LETTERS = _obj({"queue": S, "count": INT}, ["queue"])

# method, path, summary, body schema (or None), query parameters ("name:type")
ROUTES: list[tuple[str, str, str, dict[str, Any] | None, tuple[str, ...]]] = [
    ("GET", "/healthz", "liveness", None, ()),
    ("GET", "/readyz", "readiness: store and broker", None, ()),
    ("GET", "/version", "version, commit and build date", None, ()),
    ("GET", "/metrics", "Prometheus metrics (no login: keep this port private)", None, ()),
    ("GET", "/ws", "WebSocket of live pipeline frames (cookie)", None, ()),
    ("GET", "/api/healthz", "liveness", None, ()),
    ("GET", "/api/readyz", "readiness with per-check results", None, ()),
    ("GET", "/api/version", "version, commit and build date", None, ()),
    ("GET", "/api/openapi.json", "this document", None, ()),
    ("POST", "/api/auth/login", "log in: sets the authKey cookie",
     _obj({"email": S, "password": S}, ["email", "password"]), ()),
    ("POST", "/api/auth/logout", "log out: clears the cookie", None, ()),
    ("GET", "/api/auth/me", "the logged-in user", None, ()),
    ("GET", "/api/applications", "applications the user may see", None, ()),
    ("POST", "/api/applications", "create an application",
     _obj({"name": S, "description": S}, ["name"]), ()),
    ("GET", "/api/applications/{app_id}", "application detail with counts", None, ()),
    ("PUT", "/api/applications/{app_id}", "rename or describe",
     _obj({"name": S, "description": S}, ["name"]), ()),
    ("DELETE", "/api/applications/{app_id}", "delete an empty application (Admin)", None, ()),
    ("GET", "/api/applications/{app_id}/members", "members", None, ()),
    ("POST", "/api/applications/{app_id}/members", "add a member (Admin)",
     _obj({"userId": INT}, ["userId"]), ()),
    ("DELETE", "/api/applications/{app_id}/members/{member_id}", "remove a member (Admin)",
     None, ()),
    ("GET", "/api/apikeys", "API keys, without secrets", None, ("applicationId:integer",)),
    ("POST", "/api/apikeys", "create an API key (the secret is shown once)",
     _obj({"applicationId": INT, "name": S, "expiresAt": S}, ["applicationId"]), ()),
    ("POST", "/api/apikeys/{key_id}/disable", "disable an API key", None, ()),
    ("GET", "/api/users", "users (Admin)", None, ()),
    ("POST", "/api/users", "create a user (Admin)",
     _obj({"email": S, "name": S, "password": S, "role": S}, ["email", "password"]), ()),
    ("PUT", "/api/users/{user_id}/role", "change a role (Admin)", _obj({"role": S}, ["role"]),
     ()),
    ("POST", "/api/users/{user_id}/disable", "disable a user (Admin)", None, ()),
    ("POST", "/api/users/{user_id}/enable", "enable a user (Admin)", None, ()),
    ("POST", "/api/users/me/password", "change one's own password",
     _obj({"currentPassword": S, "newPassword": S}, ["currentPassword", "newPassword"]), ()),
    ("GET", "/api/pipelines", "pipelines, filtered and paged", None, (
        *PAGE, "applicationId:integer", "search:string", "keywords:string", "statuses:string",
        "context:string", "pipelineStartFrom:string", "pipelineStartTo:string",
        "pipelineEndFrom:string", "pipelineEndTo:string")),
    ("POST", "/api/pipelines", "start a pipeline for one of the user's applications", _obj({
        "applicationId": INT, "name": S, "stages": {"type": "array", "items": STAGE_IN},
        "pipelineKeywords": {"type": "array", "items": KV},
        "pipelineContextItems": {"type": "array", "items": CTX}, "traceId": S,
        "idempotencyKey": S}, ["applicationId", "name", "stages"]), ()),
    ("GET", "/api/pipelines/{pipeline_id}", "pipeline detail with stages, logs, context", None,
     ()),
    ("DELETE", "/api/pipelines/{pipeline_id}", "delete a finished pipeline", None, ()),
    ("GET", "/api/pipelines/{pipeline_id}/stages", "stages with logs", None, ()),
    ("GET", "/api/pipelines/{pipeline_id}/context", "context items", None, ()),
    ("GET", "/api/pipelines/logs/{pipeline_id}", "log lines of a pipeline", None,
     ("afterId:integer", "limit:integer")),
    ("GET", "/api/pipelines/logs/{pipeline_id}/{stage_id}", "log lines of a stage", None,
     ("afterId:integer", "limit:integer")),
    ("POST", "/api/pipelines/rerunStage", "rerun a stage (and the following ones)",
     ACTION_STAGE, ()),
    ("POST", "/api/pipelines/skipStage", "skip a stage", ACTION_STAGE, ()),
    ("POST", "/api/pipelines/retryNow", "dispatch a scheduled retry now", ACTION_STAGE, ()),
    ("POST", "/api/pipelines/cancel", "cancel a pipeline",
     _obj({"pipelineId": INT, "pipelineIds": ARR_INT}), ()),
    ("GET", "/api/keywords", "keyword keys and values", None, ("applicationId:integer",)),
    ("GET", "/api/logs", "application logs", None,
     (*PAGE, "applicationId:integer", "level:string", "search:string")),
    ("GET", "/api/workers", "workers with effective state and counts", None, ()),
    ("GET", "/api/workers/{worker_id}", "a worker", None, ()),
    ("GET", "/api/workers/{worker_id}/events", "a worker's events", None, ("limit:integer",)),
    ("GET", "/api/workers/{worker_id}/heartbeats", "a worker's heartbeats", None,
     ("limit:integer",)),
    ("GET", "/api/stats/summary", "pipelines, throughput, failure rate, workers", None,
     ("range:string", "applicationId:integer")),
    ("GET", "/api/stats/executions", "counts over time", None,
     ("range:string", "bucket:string", "applicationId:integer")),
    ("GET", "/api/deadletters", "dead-letter queues and their depth (Admin)", None, ()),
    ("GET", "/api/deadletters/messages", "peek at a dead-letter queue, leaving it (Admin)",
     None, ("queue:string", "limit:integer")),
    ("POST", "/api/deadletters/resend", "move dead letters back to their queue (Admin)",
     DEAD_LETTERS, ()),
    ("POST", "/api/deadletters/discard", "drop dead letters (Admin)", DEAD_LETTERS, ()),
    ("GET", "/api/policies", "policies with KPIs", None, (
        *PAGE, "search:string", "type:string", "status:string", "applicationId:integer",
        "sortBy:string", "sortDir:string")),
    ("POST", "/api/policies", "create a policy", POLICY, ()),
    ("GET", "/api/policies/targets", "what policies can target", None, ()),
    ("POST", "/api/policies/preview", "what a targeting would match",
     _obj({"targeting": {"type": "object"}, "applicationId": INT}), ()),
    ("GET", "/api/policies/{policy_id}", "a policy", None, ()),
    ("PUT", "/api/policies/{policy_id}", "update a policy (new version)", POLICY, ()),
    ("DELETE", "/api/policies/{policy_id}", "delete a policy", None, ()),
    ("POST", "/api/policies/{policy_id}/enable", "enable", None, ()),
    ("POST", "/api/policies/{policy_id}/disable", "disable", None, ()),
    ("POST", "/api/policies/{policy_id}/pause", "pause", None, ()),
    ("POST", "/api/policies/{policy_id}/resume", "resume", None, ()),
    ("POST", "/api/policies/{policy_id}/duplicate", "copy as a disabled policy", None, ()),
    ("GET", "/api/policies/{policy_id}/audit", "versioned audit trail (triggered=true adds"
     " every application of the policy)", None, (*PAGE, "triggered:string")),
    ("GET", "/api/policies/{policy_id}/insights", "triggers over time", None, ()),
    ("GET", "/api/observability/config", "integration configs (secrets masked)", None, ()),
    ("PUT", "/api/observability/config", "save an integration config (Admin)",
     _obj({"kind": S, "config": {"type": "object"}}, ["kind", "config"]), ()),
    ("GET", "/api/observability/status", "integration status", None, ()),
    ("POST", "/api/observability/test", "test an integration's connection (Admin)",
     _obj({"kind": S}, ["kind"]), ()),
    ("GET", "/api/observability/traces", "pipelines with trace links", None,
     (*PAGE, "applicationId:integer", "status:string", "search:string")),
    ("GET", "/api/observability/insights", "slowest stages, error hotspots, throughput", None,
     ("range:string",)),
]

_PARAM = re.compile(r"{([a-z_]+)}")


def _operation(method: str, path: str, summary: str, body: dict[str, Any] | None,
               query: tuple[str, ...]) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": S if name == "worker_id" else {"type": "integer", "minimum": 1}}
              for name in _PARAM.findall(path)]
    params += [{"name": q.split(":")[0], "in": "query", "required": False,
                "schema": {"type": q.split(":")[1]}} for q in query]
    op: dict[str, Any] = {"summary": summary, "responses": {"200": OK, "default": ERROR}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if not path.startswith(("/api/auth/login", "/healthz", "/readyz", "/version", "/metrics",
                            "/api/healthz", "/api/readyz", "/api/version", "/api/openapi")):
        op["security"] = [{"cookie": []}]
    return op


def internal_openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, body, query in ROUTES:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, summary, body,
                                                                 query)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pipelogiq internal API", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {
            "cookie": {"type": "apiKey", "in": "cookie", "name": "authKey"}}},
    }



