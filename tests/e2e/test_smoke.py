"""One pipeline, pulled and acked over plain HTTP."""

from __future__ import annotations

from conftest import Api


async def test_three_stages_over_http(api: Api) -> None:
    p = await api.create([
        {"stageName": "a", "stageHandlerName": "h1"},
        {"stageName": "b", "stageHandlerName": "h2"},
        {"stageName": "c", "stageHandlerName": "h1"},
    ])
    assert p["status"] in ("NotStarted", "Running")
    for handler, out in (("h1", "one"), ("h2", "two"), ("h1", "three")):
        r = await api.pull(handler, wait=5)
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["payload"]["pipelineId"] == p["id"]
        r = await api.ack(job["token"], isSuccess=True, result=out,
                          contextItems=[{"key": handler, "value": out}])
        assert r.status_code == 200, r.text
    done = await api.wait_status(p["id"], "Completed")
    assert [s["output"] for s in done["stages"]] == ["one", "two", "three"]
