"""Worker lifecycle routes of the external API: bootstrap, heartbeat, events, shutdown."""

from __future__ import annotations

import uuid
from typing import Any

from pipelogiq.broker.rabbit_topology import RabbitConfig
from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.job_input import parse_level, parse_time
from pipelogiq.http.lean import LeanApp, Reply, Request, json_reply
from pipelogiq.http.worker_auth import api_key_principal, session_principal
from pipelogiq.security import digest, new_token
from pipelogiq.services import Services
from pipelogiq.store.base import Principal

WORKER_STATES = {"starting", "ready", "degraded", "draining", "stopped", "error"}
SDK_SESSION_PREFIX = "wst_"


def _bootstrap_info(body: Body) -> dict[str, Any]:
    info: dict[str, Any] = {
        "workerName": body.string("workerName", required=True, max_len=200),
        "instanceId": body.string("instanceId", max_len=200),
        "workerVersion": body.string("workerVersion", max_len=100),
        "sdkVersion": body.string("sdkVersion", max_len=100),
        "environment": body.string("environment", max_len=100),
        "hostName": body.string("hostName", max_len=255),
        "pid": body.integer("pid", lo=0, hi=2**31),
        "supportedHandlers": body.array("supportedHandlers", max_items=500),
        "capabilities": body.json("capabilities"),
        "metadata": body.json("metadata"),
    }
    handlers = info["supportedHandlers"] or []
    if not all(isinstance(h, str) for h in handlers):
        raise ApiError(400, "supportedHandlers: expected an array of strings")
    if not info["instanceId"]:
        info["instanceId"] = str(uuid.uuid4())
    return info


def _own_worker(body: Body, principal: Principal) -> str:
    worker_id = body.string("workerId", max_len=100)
    if worker_id is not None and worker_id != principal.worker_id:
        raise ApiError(403, "workerId does not match the worker session")
    assert principal.worker_id is not None
    return principal.worker_id


def add_worker_routes(app: LeanApp, services: Services) -> None:
    store, engine, settings = services.store, services.engine, services.settings

    @app.post("/workers/bootstrap")
    async def bootstrap(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await api_key_principal(services, req, body)
        info = _bootstrap_info(body)
        token = SDK_SESSION_PREFIX + new_token()
        worker_id = await store.bootstrap_worker(
            principal.application_id, info, digest(token), settings.worker_session_ttl)
        engine.worker_seen(worker_id)
        services.alerter.worker_started(worker_id)
        s = settings
        pattern = engine.queue_name(principal.application_id, "{handler}")
        names = RabbitConfig(url=s.rabbitmq_url or "", prefix=s.rabbit_name_prefix,
                             app_id=s.app_id)
        broker_url = s.worker_rabbitmq_url
        return json_reply({
            "workerId": worker_id,
            "workerSessionToken": token,
            "configVersion": 1,
            "application": {"applicationId": principal.application_id,
                            "applicationName": await _app_name(principal.application_id),
                            "appId": s.app_id},
            "messageBroker": {
                "type": "rabbitmq" if broker_url else "http",
                **({"connectionString": broker_url} if broker_url else {}),
                "prefetch": s.rabbit_prefetch, "topologyOwnership": "server",
                "dlqEnabled": s.rabbit_dlq_enabled, "dlqTtlSec": 0,
            },
            "queues": {  # the names the broker declares (rabbit_topology.py)
                "stageResult": names.stage_result,
                "stageSetStatus": names.stage_set_status,
                "stageUpdatedFanout": names.updates_exchange,
                "stageNextPattern": pattern,
            },
            "heartbeat": {"intervalSec": s.worker_heartbeat_interval,
                          "offlineAfterSec": s.worker_offline_after},
            "observability": await store.link_templates(),
        })

    async def _app_name(application_id: int) -> str:
        apps = await store.list_applications([application_id])
        return str(apps[0]["name"]) if apps else ""

    @app.post("/workers/heartbeat")
    async def heartbeat(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await session_principal(services, req)
        worker_id = _own_worker(body, principal)
        state = (body.string("state", max_len=50) or "ready").lower()
        if state not in WORKER_STATES:
            raise ApiError(400, f"state: one of {', '.join(sorted(WORKER_STATES))}")
        hb = {k: body.raw(k) for k in ("uptimeSec", "brokerConnected", "queueLag", "cpuPercent",
                                        "memoryMb", "message", "metadata")}
        for k in ("inFlightJobs", "jobsProcessed", "jobsFailed"):
            hb[k] = body.integer(k, lo=0)
        for k in ("cpuPercent", "memoryMb", "uptimeSec"):
            hb[k] = body.number(k)
        hb["lastError"] = body.string("lastError", max_len=4000)
        hb["state"] = state
        previous = await store.heartbeat(worker_id, hb)
        engine.worker_seen(worker_id)
        if state == "error" and previous is not None:  # it just turned to error
            message = hb["message"] if isinstance(hb["message"], str) else None
            services.alerter.worker_failed(worker_id, hb["lastError"] or message or "no message")
        return json_reply({"status": "ok", "workerId": worker_id})

    @app.post("/workers/events")
    async def events(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await session_principal(services, req)
        worker_id = _own_worker(body, principal)
        now = services.clock.now()
        if body.has("events"):
            items = body.objects("events", max_items=200)
        elif body.has("type"):  # the original's single-event form
            items = [Body({"eventType": body.raw("type"), "message": body.raw("message"),
                           "details": body.raw("metadata"), "level": body.raw("level")})]
        else:
            raise ApiError(400, "events (or the single-event type) is required")
        events = [{
            "eventType": e.string("eventType", required=True, max_len=100),
            "message": e.string("message", max_len=64_000) or "",
            "level": parse_level(e, "level"),
            "ts": parse_time(e.string("ts"), f"{e.where}.ts", now),
            "details": e.json("details"),
        } for e in items]
        count = await store.add_worker_events(worker_id, events)
        engine.worker_seen(worker_id)
        return json_reply({"status": "ok", "acceptedCount": count, "workerId": worker_id})

    @app.post("/workers/shutdown")
    async def shutdown(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await session_principal(services, req)
        worker_id = _own_worker(body, principal)
        reason = body.string("reason", max_len=4000) or body.string("message", max_len=4000) or "shutdown"
        if await store.set_worker_gone(worker_id, "stopped", f"worker shut down: {reason}"):
            services.alerter.worker_stopped(worker_id, reason)
        await engine.worker_lost(worker_id, f"worker shut down ({reason})")
        return json_reply({"status": "ok", "workerId": worker_id})
