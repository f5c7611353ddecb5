"""Pipelines on the internal API: stages, context, log lines, deletion and the bulk operator
actions (SPEC §3.10, §7)."""

from __future__ import annotations

import httpx

from conftest import Api
from dbsnapshot import query, snapshot
from test_admin_support import db, error, run_stage

TWO = [{"stageName": "a", "stageHandlerName": "pa"}, {"stageName": "b", "stageHandlerName": "pb"}]


async def test_stages_with_logs_and_context(api: Api) -> None:
    p = await api.create(TWO, pipelineContextItems=[{"key": "region", "value": "eu"},
                                                    {"key": "n", "value": "1",
                                                     "valueType": "int"}])
    await run_stage(api, "pa")
    await api.wait_for(p["id"], lambda d: d["stages"][1]["status"] == "Pending")
    r = await api.internal.get(f"/api/pipelines/{p['id']}/stages")
    assert r.status_code == 200, r.text
    stages = r.json()
    assert [s["name"] for s in stages] == ["a", "b"]
    assert stages[0]["status"] == "Completed" and stages[0]["output"] == "out"
    assert any(line["message"].startswith("Completed") for line in stages[0]["logs"])
    r = await api.internal.get(f"/api/pipelines/{p['id']}/context")
    assert r.status_code == 200
    assert {(c["key"], c["value"]) for c in r.json()} == {("region", "eu"), ("n", "1")}
    for path in ("/api/pipelines/999/stages", "/api/pipelines/999/context"):
        error(await api.internal.get(path), 404)


async def test_log_lines_of_the_pipeline_and_of_one_stage(api: Api) -> None:
    p = await api.create(TWO)
    other = await api.create(TWO)
    await run_stage(api, "pa", logs=[{"message": "worker says hi", "logLevel": "Warning"}])
    await api.wait_for(p["id"], lambda d: d["stages"][1]["status"] == "Pending")
    first = p["stages"][0]["id"]
    r = await api.internal.get(f"/api/pipelines/logs/{p['id']}")
    assert r.status_code == 200, r.text
    lines = r.json()
    assert lines[0]["message"].startswith("Pipeline created") and "stageId" not in lines[0]
    assert {line.get("stageId") for line in lines} >= {None, first}
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    r = await api.internal.get(f"/api/pipelines/logs/{p['id']}/{first}")
    own = r.json()
    assert own and all(line["stageId"] == first for line in own)
    assert {"message": "worker says hi", "logLevel": "Warning"}.items() <= next(
        line for line in own if line["message"] == "worker says hi").items()
    # paging forward
    r = await api.internal.get(f"/api/pipelines/logs/{p['id']}",
                               params={"afterId": lines[0]["id"], "limit": 1})
    assert [line["id"] for line in r.json()] == [lines[1]["id"]]
    # a stage of another pipeline, unknown ids, bad parameters
    error(await api.internal.get(f"/api/pipelines/logs/{p['id']}/{other['stages'][0]['id']}"),
          404)
    error(await api.internal.get("/api/pipelines/logs/999"), 404)
    assert "limit" in error(await api.internal.get(f"/api/pipelines/logs/{p['id']}",
                                                   params={"limit": "x"}), 400)
    error(await api.internal.get(f"/api/pipelines/logs/{p['id']}", params={"limit": 0}), 400)


async def test_delete_only_a_finished_pipeline_and_all_its_rows(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "da"}],
                         pipelineKeywords=[{"key": "k", "value": "v"}],
                         pipelineContextItems=[{"key": "c", "value": "x"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    before = snapshot(db(api))
    msg = error(await api.internal.delete(f"/api/pipelines/{p['id']}"), 409)
    assert "only a finished pipeline" in msg
    assert snapshot(db(api)) == before
    await run_stage(api, "da")
    await api.wait_status(p["id"], "Completed")
    keep = await api.create([{"stageName": "a", "stageHandlerName": "keep"}])

    r = await api.internal.delete(f"/api/pipelines/{p['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": p["id"], "deleted": True}
    for table, column in (("pipelines", "id"), ("stages", "pipeline_id"),
                          ("stage_logs", "pipeline_id"), ("keywords", "pipeline_id"),
                          ("context_items", "pipeline_id")):
        assert not query(db(api), f"SELECT 1 FROM {table} WHERE {column} = ?", p["id"]), table
    assert not query(db(api), "SELECT 1 FROM job_leases WHERE stage_id = ?", p["stages"][0]["id"])
    assert query(db(api), "SELECT 1 FROM pipelines WHERE id = ?", keep["id"])
    error(await api.internal.get(f"/api/pipelines/{p['id']}"), 404)
    error(await api.internal.delete(f"/api/pipelines/{p['id']}"), 404)


async def _bulk(api: Api, action: str, **body: object) -> httpx.Response:
    return await api.internal.post(f"/api/pipelines/{action}", json=body)


async def test_bulk_skip_answers_per_item_and_applies_the_rest(api: Api) -> None:
    p = await api.create(TWO)
    q = await api.create([{"stageName": "a", "stageHandlerName": "qa"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    running = await api.pull("qa", wait=5)
    assert running.status_code == 200
    ids = [p["stages"][0]["id"], 999, q["stages"][0]["id"], p["stages"][1]["id"]]
    r = await _bulk(api, "skipStage", stageIds=ids)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["id"], x["status"]) for x in results] == [
        (ids[0], 200), (999, 404), (ids[2], 409), (ids[3], 200)]
    assert "Running" in results[2]["message"] and "message" not in results[0]
    done = await api.wait_status(p["id"], "Completed")  # kicked: the pipeline finishes
    assert [s["status"] for s in done["stages"]] == ["Skipped", "Skipped"]


async def test_bulk_cancel_retry_now_and_rerun(api: Api) -> None:
    a = await api.create([{"stageName": "a", "stageHandlerName": "ba"}])
    b = await api.create([{"stageName": "a", "stageHandlerName": "bb"}])
    r = await _bulk(api, "cancel", pipelineIds=[a["id"], b["id"], a["id"]])
    assert [x["status"] for x in r.json()["results"]] == [200, 200, 409]
    assert (await api.pipeline(b["id"]))["status"] == "Cancelled"

    c = await api.create([{"stageName": "a", "stageHandlerName": "bc",
                           "options": {"maxRetries": 1, "retryInterval": 3600}}])
    await run_stage(api, "bc", ok=False)
    await api.wait_for(c["id"], lambda d: d["stages"][0]["status"] == "RetryScheduled")
    r = await _bulk(api, "retryNow", stageIds=[c["stages"][0]["id"], a["stages"][0]["id"]])
    assert [x["status"] for x in r.json()["results"]] == [200, 409]
    await run_stage(api, "bc")  # dispatched at once, not an hour later
    await api.wait_status(c["id"], "Completed")

    r = await _bulk(api, "rerunStage", stageIds=[c["stages"][0]["id"]],
                    rerunAllNextStages=True)
    assert r.json()["results"] == [{"id": c["stages"][0]["id"], "status": 200}]
    await run_stage(api, "bc")
    await api.wait_status(c["id"], "Completed")


async def test_bulk_bad_bodies_are_400_and_change_nothing(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "bad"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    before = snapshot(db(api))
    sid = p["stages"][0]["id"]
    for action, body in (("skipStage", {}), ("skipStage", {"stageIds": []}),
                         ("skipStage", {"stageIds": [sid, "x"]}),
                         ("skipStage", {"stageIds": [sid, True]}),
                         ("skipStage", {"stageIds": [sid, 0]}),
                         ("skipStage", {"stageIds": sid}),
                         ("cancel", {"stageIds": [p["id"]]}),
                         ("retryNow", {"stageIds": list(range(1, 502))})):
        r = await _bulk(api, action, **body)
        error(r, 400)
    assert snapshot(db(api)) == before


async def test_pipeline_routes_need_a_login(api: Api) -> None:
    p = await api.create(TWO)
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        for method, path in (("GET", f"/api/pipelines/{p['id']}/stages"),
                             ("GET", f"/api/pipelines/{p['id']}/context"),
                             ("GET", f"/api/pipelines/logs/{p['id']}"),
                             ("DELETE", f"/api/pipelines/{p['id']}"),
                             ("POST", "/api/pipelines/cancel")):
            error(await anon.request(method, path, json={"pipelineIds": [p["id"]]}
                                     if method == "POST" else None), 401)
