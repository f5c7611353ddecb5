"""Stats over time ranges, health under `/api`, and `/metrics`. The server runs on a clock the
test moves by hand, so "two hours later" takes no time (and no wall-clock sleep)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio

from conftest import Api
from pipelogiq.app import run_server
from pipelogiq.config import Settings
from pipelogiq.store.base import iso
from test_admin_support import error, run_stage, worker

HOUR = 3600.0
T0 = 527_777 * HOUR + 600  # ten minutes past an hour, so hour buckets are predictable


class ManualClock:
    """Wall time that moves only when the test says so."""

    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t

    def trio_deadline(self, wall: float) -> float:
        return trio.current_time() + (wall - self.t)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def capi(nursery: trio.Nursery, settings: Settings,
               clock: ManualClock) -> AsyncIterator[Api]:
    closing = trio.Event()
    running = await nursery.start(functools.partial(run_server, settings, clock=clock,
                                                    closing=closing))
    async with httpx.AsyncClient(base_url=running.internal_url, timeout=30) as internal, \
            httpx.AsyncClient(base_url=running.external_url, timeout=30) as external:
        internal.headers["Origin"] = running.internal_url
        yield await Api(running, internal, external).setup()
    closing.set()


async def _finished(api: Api, handler: str, ok: bool) -> None:
    p = await api.create([{"stageName": "s", "stageHandlerName": handler}])
    await run_stage(api, handler, ok=ok, retryable=False)
    await api.wait_status(p["id"], "Completed" if ok else "Failed")


async def _history(api: Api, clock: ManualClock) -> str:
    """One Completed pipeline at T0; two hours later a Completed, a Failed and a Pending one
    and a ready worker. Returns the worker id."""
    await _finished(api, "old", True)
    clock.t += 2 * HOUR
    await _finished(api, "done", True)
    await _finished(api, "fail", False)
    p = await api.create([{"stageName": "s", "stageHandlerName": "waiting"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    return await worker(api)


async def _summary(api: Api, **params: Any) -> dict[str, Any]:
    r = await api.internal.get("/api/stats/summary", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_summary_over_ranges(capi: Api, clock: ManualClock) -> None:
    wid = await _history(capi, clock)
    hour = await _summary(capi, range="1h")
    assert hour["pipelinesByStatus"] == {"NotStarted": 0, "Running": 1, "Completed": 1,
                                         "Failed": 1, "Cancelled": 0}
    assert hour["pipelinesCreated"] == 3
    assert hour["stagesCompleted"] == 1
    assert hour["throughputPerMinute"] == pytest.approx(1 / 60)
    assert (hour["pipelinesFinished"], hour["pipelinesFailed"]) == (2, 1)
    assert hour["failureRate"] == pytest.approx(0.5)
    assert hour["inFlightStages"] == 1
    assert hour["workersByState"]["ready"] == 1
    assert sum(hour["workersByState"].values()) == 1
    assert hour["range"] == "1h" and hour["to"].endswith("Z")

    day = await _summary(capi, range="24h", applicationId=capi.application_id)
    assert day["pipelinesCreated"] == 4 and day["stagesCompleted"] == 2
    assert day["failureRate"] == pytest.approx(1 / 3)
    assert day["throughputPerMinute"] == pytest.approx(2 / (24 * 60))

    clock.t += 60  # past WORKER_OFFLINE_AFTER (45 s) without a heartbeat
    later = await _summary(capi, range="1h")
    assert later["workersByState"]["offline"] == 1 and later["workersByState"]["ready"] == 0
    detail = (await capi.internal.get(f"/api/workers/{wid}")).json()
    assert detail["effectiveState"] == "offline"

    for params in ({"range": "2h"}, {"range": "24H"}, {"applicationId": "x"}):
        error(await capi.internal.get("/api/stats/summary", params=params), 400)
    error(await capi.internal.get("/api/stats/summary", params={"applicationId": 999}), 404)


async def test_executions_in_buckets(capi: Api, clock: ManualClock) -> None:
    await _history(capi, clock)
    r = await capi.internal.get("/api/stats/executions", params={"range": "24h", "bucket": "1h"})
    assert r.status_code == 200, r.text
    buckets = r.json()
    assert len(buckets) == 25
    hour0 = T0 - 600
    assert buckets[-1]["start"] == iso(hour0 + 2 * HOUR)
    assert buckets[-1] == {"start": buckets[-1]["start"], "created": 3, "completed": 1,
                           "failed": 1}
    assert buckets[-3] == {"start": iso(hour0), "created": 1, "completed": 1,
                           "failed": 0}
    assert sum(b["created"] for b in buckets) == 4

    r = await capi.internal.get("/api/stats/executions", params={"range": "1h"})
    minutes = r.json()  # the default bucket of 1h is a minute
    assert len(minutes) == 61 and sum(b["created"] for b in minutes) == 3
    r = await capi.internal.get("/api/stats/executions", params={"range": "30d"})
    assert len(r.json()) == 31  # by the day
    assert "too small" in error(await capi.internal.get(
        "/api/stats/executions", params={"range": "30d", "bucket": "1m"}), 400)
    error(await capi.internal.get("/api/stats/executions", params={"bucket": "2m"}), 400)
    error(await capi.internal.get("/api/stats/executions", params={"range": "1y"}), 400)
    error(await capi.internal.get("/api/stats/executions", params={"applicationId": 999}), 404)


async def test_health_and_version_under_api(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        assert (await anon.get("/api/healthz")).json() == {"status": "ok"}
        r = await anon.get("/api/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "checks": {"store": "ok", "broker": "ok"}}
        assert set((await anon.get("/api/version")).json()) == {"version", "commit",
                                                                "buildDate"}

        async def down() -> None:
            raise ConnectionError("broker unreachable")

        monkeypatch.setattr(api.running.services.engine.broker, "ping", down)
        r = await anon.get("/api/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {"store": "ok", "broker": "failed: broker unreachable"}


async def test_metrics_without_login(api: Api) -> None:
    p = await api.create([{"stageName": "s", "stageHandlerName": "m"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    await worker(api)
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        r = await anon.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].count("charset") <= 1
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    # One pipeline created and dispatched (its job waits: nobody pulled or acked it).
    for name, value in (("ext_pipeline_created_total", 1), ("ext_stage_jobs_pulled_total", 0),
                        ("ext_stage_jobs_acked_total", 0), ("ext_stage_jobs_nacked_total", 0),
                        ("stage_published_total", 1), ("stage_result_processed_total", 0),
                        ("stage_result_failed_total", 0), ("stage_status_updated_total", 1),
                        ("pending_marked_failed_total", 0)):
        assert f"\n{name} {value:.1f}" in text, name
    assert "\nstages_in_flight 1.0" in text
    assert 'pipelines{status="Running"} 1.0' in text
    assert 'pipelines{status="Completed"} 0.0' in text
    assert 'workers{state="ready"} 1.0' in text
    assert 'live_actors{kind="pipelines"}' in text
    assert 'queue_depth{handler="m"} 1.0' in text  # its job waits for a worker
    assert "dispatch_latency_seconds_bucket" in text
