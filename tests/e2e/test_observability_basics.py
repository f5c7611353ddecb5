"""The metrics server on METRICS_ADDR, request ids, and one log line per state change."""

from __future__ import annotations

import logging

import httpx
import pytest

from conftest import Api


async def test_metrics_server_counts_a_pipeline_run(api: Api) -> None:
    p = await api.create([{"stageName": "s", "stageHandlerName": "mh"}])
    r = await api.pull("mh", wait=5)
    assert (await api.ack(r.json()["token"])).status_code == 200
    await api.wait_status(p["id"], "Completed")
    async with httpx.AsyncClient(base_url=api.running.metrics_url) as c:
        text = (await c.get("/metrics")).text
    assert "\next_pipeline_created_total 1.0" in text
    assert "\next_stage_jobs_pulled_total 1.0" in text
    assert "\next_stage_jobs_acked_total 1.0" in text
    assert "\ndispatch_latency_seconds_count 1.0" in text
    assert 'stage_duration_seconds_count{handler="mh"} 1.0' in text


async def test_request_ids_are_echoed_or_made(api: Api) -> None:
    r = await api.external.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    made = await api.external.get("/healthz", headers={"X-Request-Id": "not ok; evil"})
    assert made.headers["X-Request-Id"] != "not ok; evil" and len(made.headers["X-Request-Id"]) == 32


async def test_each_state_change_is_one_log_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipelogiq.state")
    p = await api.create([{"stageName": "s", "stageHandlerName": "lh"}])
    r = await api.pull("lh", wait=5)
    assert (await api.ack(r.json()["token"], result="x")).status_code == 200
    await api.wait_status(p["id"], "Completed")
    lines = [(rec.getMessage().split(":")[0], getattr(rec, "stage", None),
              getattr(rec, "attempt", None)) for rec in caplog.records
             if rec.name == "pipelogiq.state" and getattr(rec, "pipeline", None) == p["id"]]
    sid = p["stages"][0]["id"]
    assert lines == [("Pipeline created with 1 stage(s)", None, None), ("Pending", sid, 1),
                     ("Running", sid, 1), ("Completed", sid, 1),
                     ("Pipeline Completed", None, None)]
