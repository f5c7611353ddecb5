"""The OpenAPI 3 document of the external API (served at /openapi.json).

A test checks that it names every route the app serves and nothing else."""

from __future__ import annotations

from typing import Any

from pipelogiq import __version__

_TEXT_ERROR = {"description": "error", "content": {"text/plain": {"schema": {"type": "string"}}}}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


S, INT, N, B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
KV = _obj({"key": S, "value": S}, ["key"])
CTX = _obj({"key": S, "value": S, "valueType": S}, ["key"])
LOG = _obj({"message": S, "logLevel": S, "created": {"type": "string", "format": "date-time"}},
           ["message"])
OPTIONS = _obj({"retryInterval": N, "maxRetries": INT, "timeOut": N, "runNextIfFailed": B,
                "failIfOutputEmpty": B, "notifyOnFailure": B, "runAsUser": S,
                "dependsOn": {"type": "array", "maxItems": 0},
                "runInParallelWith": {"type": "array", "maxItems": 0}})
STAGE_IN = _obj({"stageName": S, "stageHandlerName": S, "description": S, "input": S,
                 "isEvent": B, "options": OPTIONS}, ["stageName", "stageHandlerName"])
JOB = _obj({"token": S, "queue": S, "messageId": S, "payload": {"type": "object"}, "leaseUntil": S,
            "headers": {"type": "object"}})
ACK = _obj({"token": S, "isSuccess": B, "result": S, "errorCode": S, "errorMessage": S,
            "retryable": B, "logs": {"type": "array", "items": LOG},
            "contextItems": {"type": "array", "items": CTX}, "requeue": B}, ["token"])
OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}


def _op(summary: str, body: dict[str, Any] | None, responses: dict[str, Any],
        security: str | None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, "default": _TEXT_ERROR}}
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    if security == "key":
        op["security"] = [{"apiKey": []}, {"bearer": []}]
    elif security == "session":
        op["security"] = [{"workerSession": []}, {"bearer": []}]
    elif security == "either":
        op["security"] = [{"workerSession": []}, {"apiKey": []}, {"bearer": []}]
    return op


def external_openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("liveness", None, {"200": OK}, None)},
        "/readyz": {"get": _op("readiness: store and broker", None, {"200": OK}, None)},
        "/version": {"get": _op("version, commit and build date", None, {"200": OK}, None)},
        "/openapi.json": {"get": _op("this document", None, {"200": OK}, None)},
        "/pipelines": {"post": _op("create a pipeline", _obj({
            "name": S, "stages": {"type": "array", "items": STAGE_IN},
            "pipelineKeywords": {"type": "array", "items": KV},
            "pipelineContextItems": {"type": "array", "items": CTX},
            "traceId": S, "idempotencyKey": S}, ["name", "stages"]), {"200": OK}, "key")},
        "/jobs/pull": {"post": _op("long-poll for jobs of a handler", _obj({
            "handlerName": S, "queue": S, "waitSeconds": N,
            "maxJobs": {"type": "integer", "minimum": 1, "maximum": 100}, "workerId": S}),
            {"200": {"description": "a job, or {jobs} with maxJobs",
                     "content": {"application/json": {"schema": JOB}}},
             "204": {"description": "no job within waitSeconds"}}, "either")},
        "/jobs/ack": {"post": _op("report a job's result (or {acks:[...]})", ACK,
                                  {"200": OK}, "either")},
        "/jobs/extend": {"post": _op("extend a job's lease", _obj({"token": S, "seconds": N},
                                                                   ["token"]),
                                     {"200": OK}, "either")},
        "/logs": {"post": _op("an application log line", _obj({
            "message": S, "logLevel": S, "created": S, "keywords": {}}, ["message"]),
            {"200": OK}, "key")},
        "/workers/bootstrap": {"post": _op("register a worker, get a session", _obj({
            "workerName": S, "instanceId": S, "workerVersion": S, "sdkVersion": S,
            "environment": S, "hostName": S, "pid": INT,
            "supportedHandlers": {"type": "array", "items": S}, "capabilities": {},
            "metadata": {}}, ["workerName"]), {"200": OK}, "key")},
        "/workers/heartbeat": {"post": _op("heartbeat", _obj({
            "workerId": S, "state": S, "uptimeSec": N, "inFlightJobs": INT, "jobsProcessed": INT,
            "jobsFailed": INT, "cpuPercent": N, "memoryMb": N, "lastError": S}),
            {"200": OK}, "session")},
        "/workers/events": {"post": _op("worker events (batch or single-event form)", _obj({
            "workerId": S, "events": {"type": "array", "maxItems": 200, "items": _obj({
                "ts": S, "level": S, "eventType": S, "message": S, "details": {}},
                ["eventType"])},
            "type": S, "message": S, "metadata": {}}), {"200": OK}, "session")},
        "/workers/shutdown": {"post": _op("a worker leaves; its jobs are handed back", _obj({
            "workerId": S, "reason": S, "message": S}), {"200": OK}, "session")},
        "/rabbitmq/connection": {"get": _op("AMQP URL for AMQP-direct workers", None,
                                            {"200": OK}, "key")},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pipelogiq external API", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "workerSession": {"type": "apiKey", "in": "header", "name": "X-Worker-Session"},
            "bearer": {"type": "http", "scheme": "bearer"},
        }},
    }
