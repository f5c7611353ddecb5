"""The external API (:8081): pipelines, jobs and workers, as SPEC §4 defines them."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import Counter

from pipelogiq.broker.base import parse_queue_name
from pipelogiq.domain import Delivered, JobResult
from pipelogiq.http.body import Body
from pipelogiq.http.common import readiness
from pipelogiq.http.errors import ApiError
from pipelogiq.http.job_input import parse_level, parse_result, parse_time
from pipelogiq.http.lean import LeanApp, Reply, Request, json_reply, text_reply
from pipelogiq.http.openapi_external import external_openapi
from pipelogiq.http.pipeline_input import HANDLER_NAME, parse_new_pipeline
from pipelogiq.http.worker_auth import api_key_principal, job_principal
from pipelogiq.http.worker_routes import add_worker_routes
from pipelogiq.services import Services
from pipelogiq.store.base import AckOutcome, Principal, iso
from pipelogiq.version import version_info


def _job_json(d: Delivered) -> dict[str, Any]:
    return {"token": d.token, "queue": d.queue, "messageId": d.message_id,
            "payload": d.payload, "headers": d.headers, "leaseUntil": iso(d.lease_until)}


def create_external_app(services: Services) -> LeanApp:
    app = LeanApp(text_reply)

    @app.get("/healthz")
    async def healthz(req: Request) -> Reply:
        return json_reply({"status": "ok"})

    @app.get("/readyz")
    async def readyz(req: Request) -> Reply:
        return json_reply(*await readiness(services))

    @app.get("/version")
    async def version(req: Request) -> Reply:
        return json_reply(version_info())

    add_worker_routes(app, services)
    engine, store, settings = services.engine, services.store, services.settings

    @app.post("/pipelines")
    async def create_pipeline(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await api_key_principal(services, req, body)
        new = parse_new_pipeline(body, principal.application_id)
        _, created, doc = await engine.create_pipeline(new)
        if created:
            engine.metrics.ext_pipeline_created_total.inc()
        return json_reply(doc)

    @app.post("/logs")
    async def app_log(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await api_key_principal(services, req, body)
        message = body.string("message", required=True, max_len=64_000)
        keywords = body.json("keywords")
        await store.app_log(
            principal.application_id, parse_level(body), message or "",
            parse_time(body.string("created"), "created", services.clock.now()),
            None if keywords is None else json.dumps(keywords))
        return json_reply({"status": "ok"})

    async def _pull_target(body: Body, principal: Principal) -> str:
        handler = body.string("handlerName", max_len=200)
        queue = body.string("queue", max_len=400)
        if handler is None and queue is None:
            raise ApiError(400, "handlerName (or queue) is required")
        if handler is None:
            assert queue is not None
            parsed = parse_queue_name(settings.rabbit_name_prefix, settings.app_id, queue)
            if parsed is None or parsed[0] != principal.application_id:
                raise ApiError(404, f"unknown queue {queue!r}")
            handler = parsed[1]
        if not HANDLER_NAME.match(handler):
            raise ApiError(400, "handlerName: letters, digits and _.:- only")
        return handler

    @app.post("/jobs/pull", waits=True)
    async def pull(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await job_principal(services, req, body)
        handler = await _pull_target(body, principal)
        wait = body.number("waitSeconds", default=0, lo=0) or 0.0
        wait = min(wait, settings.pull_wait_max)
        batch = body.has("maxJobs")
        max_jobs = body.integer("maxJobs", default=1, lo=1, hi=100) or 1
        worker_id = principal.worker_id
        if worker_id is None and body.has("workerId"):
            worker_id = body.string("workerId", max_len=100)
            if await store.worker_app(worker_id or "") != principal.application_id:
                raise ApiError(404, "unknown workerId")
        jobs = await engine.pull(principal.application_id, handler, max_jobs, wait, worker_id)
        engine.metrics.ext_stage_jobs_pulled_total.inc(len(jobs))
        if not jobs:
            return Reply(204)
        if batch:
            return json_reply({"jobs": [_job_json(j) for j in jobs]})
        return json_reply(_job_json(jobs[0]))

    def _answer(outcome: AckOutcome, counter: Counter) -> tuple[int, dict[str, Any]]:
        if outcome.kind == "applied":
            counter.inc()
        code = {"applied": 200, "duplicate": 200, "not_found": 404, "conflict": 409}[outcome.kind]
        answer: dict[str, Any] = {"status": "ok"} if code == 200 else {
            "status": outcome.kind, "message": outcome.reason}
        if outcome.kind == "duplicate":
            answer["duplicate"] = True
        return code, answer

    async def _ack_items(items: list[Body], principal: Principal) -> list[tuple[int, dict[str, Any]]]:
        """Each item answered on its own, in order; a run of results (not hand-backs) is
        applied in one transaction."""
        metrics, app_id = engine.metrics, principal.application_id
        answers: list[tuple[int, dict[str, Any]]] = []
        run: list[tuple[str, JobResult]] = []

        async def apply_run() -> None:
            if run:
                for outcome in await engine.ack_many(app_id, run):
                    answers.append(_answer(outcome, metrics.ext_stage_jobs_acked_total))
                run.clear()

        for item in items:
            token = item.string("token", required=True, max_len=200) or ""
            if not item.boolean("requeue"):
                run.append((token, parse_result(item, services.clock.now())))
                continue
            await apply_run()
            outcome = await engine.requeue(app_id, token)
            answers.append(_answer(outcome, metrics.ext_stage_jobs_nacked_total))
        await apply_run()
        return answers

    @app.post("/jobs/ack")
    async def ack(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await job_principal(services, req, body)
        if body.has("acks"):
            items = body.objects("acks", max_items=100)
            for item in items:  # validate every item before applying any
                item.string("token", required=True, max_len=200)
                parse_result(item, 0.0)
            answers = await _ack_items(items, principal)
            return json_reply({"results": [
                {"token": item.string("token"), "code": code, **answer}
                for item, (code, answer) in zip(items, answers, strict=True)]})
        ((code, answer),) = await _ack_items([body], principal)
        if code != 200:
            return text_reply(code, answer["message"])
        return json_reply(answer)

    @app.post("/jobs/extend")
    async def extend(req: Request) -> Reply:
        body = Body.parse(req.body)
        principal = await job_principal(services, req, body)
        token = body.string("token", required=True, max_len=200) or ""
        seconds = body.number("seconds", default=settings.job_lease, lo=1, hi=86_400)
        until = await engine.extend(principal.application_id, token, seconds or settings.job_lease)
        return json_reply({"leaseUntil": iso(until)})

    @app.get("/openapi.json")
    async def openapi(req: Request) -> Reply:
        return json_reply(external_openapi())

    @app.get("/rabbitmq/connection")
    async def rabbit_connection(req: Request) -> Reply:
        await api_key_principal(services, req)
        if settings.worker_rabbitmq_url is None:
            raise ApiError(503, "no message broker in embedded mode: workers pull over HTTP")
        return json_reply({"connectionString": settings.worker_rabbitmq_url})

    return app
