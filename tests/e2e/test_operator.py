"""Operator actions (SPEC §3.10) and the pipeline list of the internal API."""

from __future__ import annotations

from typing import Any

from conftest import Api
from dbsnapshot import snapshot


async def _act(api: Api, action: str, **body: Any) -> Any:
    return await api.internal.post(f"/api/pipelines/{action}", json=body)


async def _run_stage(api: Api, handler: str, ok: bool = True) -> None:
    r = await api.pull(handler, wait=5)
    assert r.status_code == 200, r.text
    a = await api.ack(r.json()["token"], isSuccess=ok, result="out" if ok else "bad")
    assert a.status_code == 200, a.text


async def test_rerun_this_and_following_stages(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "ra"},
                          {"stageName": "b", "stageHandlerName": "rb"}])
    await _run_stage(api, "ra")
    await _run_stage(api, "rb")
    await api.wait_status(p["id"], "Completed")
    first = p["stages"][0]["id"]

    r = await _act(api, "rerunStage", stageId=first, rerunAllNextStages=True)
    assert r.status_code == 200, r.text
    reopened = await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    assert reopened["status"] == "Running"
    assert reopened["stages"][1]["status"] == "NotStarted"
    assert any("rerun requested by admin@example.com" in m["message"]
               for m in reopened["stages"][1]["logs"])
    await _run_stage(api, "ra")
    await _run_stage(api, "rb")
    await api.wait_status(p["id"], "Completed")


async def test_rerun_refused_while_a_stage_is_in_flight(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "ia"},
                          {"stageName": "b", "stageHandlerName": "ib"}])
    await _run_stage(api, "ia")
    await api.wait_for(p["id"], lambda d: d["stages"][1]["status"] == "Pending")
    before = snapshot(api.running.services.settings.sqlite_path)
    r = await _act(api, "rerunStage", stageId=p["stages"][0]["id"])
    assert r.status_code == 409
    assert "Pending or Running" in r.json()["error"]["message"]
    assert snapshot(api.running.services.settings.sqlite_path) == before


async def test_skip_a_failed_stage_lets_the_pipeline_continue(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "sa"},
                          {"stageName": "b", "stageHandlerName": "sb"}])
    await _run_stage(api, "sa", ok=False)
    await api.wait_status(p["id"], "Failed")
    r = await _act(api, "skipStage", stageId=p["stages"][0]["id"])
    assert r.status_code == 200, r.text
    await _run_stage(api, "sb")
    done = await api.wait_status(p["id"], "Completed")
    assert [s["status"] for s in done["stages"]] == ["Skipped", "Completed"]


async def test_skip_refused_for_a_running_stage(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "ka"}])
    r = await api.pull("ka", wait=5)
    assert r.status_code == 200
    resp = await _act(api, "skipStage", stageId=p["stages"][0]["id"])
    assert resp.status_code == 409 and "Running" in resp.json()["error"]["message"]
    assert (await api.ack(r.json()["token"])).status_code == 200


async def test_cancel_then_late_ack_is_409_and_cancel_again_is_409(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "ca"},
                          {"stageName": "b", "stageHandlerName": "cb"}])
    r = await api.pull("ca", wait=5)
    assert r.status_code == 200
    assert (await _act(api, "cancel", pipelineId=p["id"])).status_code == 200
    done = await api.pipeline(p["id"])
    assert done["status"] == "Cancelled"
    assert [s["status"] for s in done["stages"]] == ["Cancelled", "Cancelled"]
    late = await api.ack(r.json()["token"])
    assert late.status_code == 409 and "cancelled" in late.text
    again = await _act(api, "cancel", pipelineId=p["id"])
    assert again.status_code == 409


async def test_retry_now_dispatches_a_scheduled_retry_at_once(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "na",
                           "options": {"maxRetries": 1, "retryInterval": 3600}}])
    await _run_stage(api, "na", ok=False)
    scheduled = await api.pipeline(p["id"])
    assert scheduled["stages"][0]["status"] == "RetryScheduled"
    assert (await _act(api, "retryNow", stageId=p["stages"][0]["id"])).status_code == 200
    r = await api.pull("na", wait=5)  # not an hour later
    assert r.status_code == 200 and r.json()["payload"]["attempt"] == 2
    assert (await _act(api, "retryNow", stageId=p["stages"][0]["id"])).status_code == 409


async def test_actions_on_unknown_ids_are_404(api: Api) -> None:
    for action, body in (("rerunStage", {"stageId": 999}), ("skipStage", {"stageId": 999}),
                         ("cancel", {"pipelineId": 999}), ("retryNow", {"stageId": 999})):
        r = await _act(api, action, **body)
        assert r.status_code == 404, (action, r.text)


async def test_list_filters_and_paging(api: Api) -> None:
    a = await api.create([{"stageName": "x", "stageHandlerName": "la"}], name="invoice-run",
                         pipelineKeywords=[{"key": "customer", "value": "acme"}],
                         pipelineContextItems=[{"key": "region", "value": "eu"}])
    b = await api.create([{"stageName": "x", "stageHandlerName": "lb"}], name="payroll",
                         pipelineKeywords=[{"key": "customer", "value": "globex"}],
                         pipelineContextItems=[{"key": "region", "value": "us"}])
    await _run_stage(api, "lb")
    await api.wait_status(b["id"], "Completed")

    async def ids(**params: Any) -> list[int]:
        r = await api.internal.get("/api/pipelines", params=params)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert await ids() == [b["id"], a["id"]]  # newest first
    assert await ids(search="invoice") == [a["id"]]
    assert await ids(search="globex") == [b["id"]]
    assert await ids(keywords="customer:acme") == [a["id"]]
    assert await ids(context="region:us") == [b["id"]]
    assert await ids(statuses="Completed") == [b["id"]]
    assert await ids(pageSize=1, pageNumber=2) == [a["id"]]
    r = await api.internal.get("/api/pipelines", params={"pageSize": 1})
    assert r.json()["totalCount"] == 2
    bad = await api.internal.get("/api/pipelines", params={"pageSize": 500})
    assert bad.status_code == 400


async def test_search_takes_wildcards_literally(api: Api) -> None:
    odd = await api.create([{"stageName": "x", "stageHandlerName": "wa"}], name="100%_done")
    await api.create([{"stageName": "x", "stageHandlerName": "wb"}], name="plain")
    for text in ("%", "_", "0%_d"):
        r = await api.internal.get("/api/pipelines", params={"search": text})
        assert [p["id"] for p in r.json()["items"]] == [odd["id"]], text
