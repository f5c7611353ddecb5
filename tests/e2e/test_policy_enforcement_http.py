"""Policies enforced end to end over real HTTP (SPEC §6) and the stage options of SPEC §2.

A real server (SQLite, real sockets): the wall clock runs, so timings are bounded, not exact;
the exact timings are proved over the inline store on `autojump_clock` (unit tests).
"""

from __future__ import annotations

from typing import Any

import trio

from conftest import Api


async def policy(api: Api, kind: str, rule: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {"applicationId": api.application_id, "name": f"{kind} policy", "type": kind,
            "rule": rule, **over}
    r = await api.internal.post("/api/policies", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def drain(api: Api, handler: str, count: int, ok: bool = True) -> list[float]:
    """Pull and ack `count` jobs as they come; returns the wall time of each delivery."""
    times = []
    for _ in range(count):
        r = await api.pull(handler, wait=10)
        assert r.status_code == 200, r.text
        times.append(trio.current_time())
        a = await api.ack(r.json()["token"], isSuccess=ok, result="out" if ok else None)
        assert a.status_code == 200, a.text
    return times


async def test_rate_limit_paces_dispatch_and_fails_nothing(api: Api) -> None:
    p = await policy(api, "rate_limit", {"limit": 5, "windowSeconds": 1, "keyBy": "handler"},
                     targeting={"handlers": ["paced"]})
    other = await api.create([{"stageName": "x", "stageHandlerName": "unpaced"}])
    created: list[dict[str, Any]] = []

    async def create() -> None:
        created.append(await api.create([{"stageName": "s", "stageHandlerName": "paced"}]))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(15):
            nursery.start_soon(create)
    times = await drain(api, "paced", 15)
    # 5 at once (the burst), then one per 200 ms: the 15th no sooner than 2 s after the first
    assert 2.0 <= times[-1] - start < 6.0
    for c in created:
        done = await api.wait_status(c["id"], "Completed", "Failed")
        assert done["status"] == "Completed"
        assert done["stages"][0]["attempt"] == 1
    await drain(api, "unpaced", 1)  # a stage the policy does not target was never held
    assert (await api.wait_status(other["id"], "Completed"))["status"] == "Completed"
    logs = [m["message"] for c in created for m in (await api.pipeline(c["id"]))["stages"][0]["logs"]]
    held = sum("rate limited" in m and "rate_limit policy" in m for m in logs)
    assert 5 <= held <= 10  # the bucket refills a little while the pipelines are created
    insights = (await api.internal.get(f"/api/policies/{p['id']}/insights")).json()
    assert insights["total"] == held
    assert insights["byHandler"] == [{"handler": "paced", "count": held}]
    listed = (await api.internal.get(f"/api/policies/{p['id']}")).json()
    assert listed["triggers24h"] == held and listed["lastTriggeredAt"] is not None
    trail = (await api.internal.get(f"/api/policies/{p['id']}/audit?triggered=true")).json()
    triggered = [e for e in trail["items"] if e["kind"] == "triggered"]
    assert len(triggered) == held and trail["totalCount"] == held + 1  # + "created"
    assert {e["pipelineId"] for e in triggered} <= {c["id"] for c in created}
    assert all("rate limited" in e["details"]["action"] for e in triggered)
    changes = (await api.internal.get(f"/api/policies/{p['id']}/audit")).json()
    assert [e["kind"] for e in changes["items"]] == ["created"]
    bad = await api.internal.get(f"/api/policies/{p['id']}/audit?triggered=yes")
    assert bad.status_code == 400


async def test_held_stage_shows_wait_reason_and_pausing_the_policy_releases_it(api: Api) -> None:
    p = await policy(api, "rate_limit", {"limit": 1, "windowSeconds": 3600, "keyBy": "global"},
                     targeting={"handlers": ["gated"]})
    first = await api.create([{"stageName": "s", "stageHandlerName": "gated"}])
    second = await api.create([{"stageName": "s", "stageHandlerName": "gated"}])
    await api.wait_for(first["id"], lambda d: d["stages"][0]["status"] == "Pending")
    held = await api.wait_for(second["id"], lambda d: bool(d["stages"][0].get("waitReason")))
    assert held["stages"][0]["status"] == "NotStarted"
    assert "rate_limit policy" in held["stages"][0]["waitReason"]
    assert (await api.internal.post(f"/api/policies/{p['id']}/pause")).status_code == 200
    released = await api.wait_for(second["id"], lambda d: d["stages"][0]["status"] == "Pending")
    assert "waitReason" not in released["stages"][0]
    await drain(api, "gated", 2)
    assert (await api.wait_status(second["id"], "Completed"))["status"] == "Completed"


async def test_skipping_a_held_stage_is_allowed(api: Api) -> None:
    await policy(api, "rate_limit", {"limit": 1, "windowSeconds": 3600, "keyBy": "global"},
                 targeting={"handlers": ["gated2"]})
    first = await api.create([{"stageName": "s", "stageHandlerName": "gated2"}])
    second = await api.create([{"stageName": "s", "stageHandlerName": "gated2"}])
    await api.wait_for(first["id"], lambda d: d["stages"][0]["status"] == "Pending")
    held = await api.wait_for(second["id"], lambda d: bool(d["stages"][0].get("waitReason")))
    r = await api.internal.post("/api/pipelines/skipStage", json={"stageId": held["stages"][0]["id"]})
    assert r.status_code == 200, r.text
    assert (await api.wait_status(second["id"], "Completed"))["stages"][0]["status"] == "Skipped"


async def test_retry_policy_overrides_stage_options_and_respects_retry_on(api: Api) -> None:
    await policy(api, "retry", {"maxAttempts": 2, "backoff": "fixed", "baseDelayMs": 50,
                                "retryOn": {"errorCodes": ["BUSY"]}},
                 targeting={"handlers": ["flaky"]})
    p = await api.create([{"stageName": "s", "stageHandlerName": "flaky",
                           "options": {"maxRetries": 5, "retryInterval": 3600}}])
    r = await api.pull("flaky", wait=5)
    assert (await api.ack(r.json()["token"], isSuccess=False, errorCode="BUSY")).status_code == 200
    r = await api.pull("flaky", wait=10)  # 50 ms later, not an hour
    assert r.status_code == 200 and r.json()["payload"]["attempt"] == 2
    assert (await api.ack(r.json()["token"], isSuccess=False, errorCode="BUSY")).status_code == 200
    done = await api.wait_status(p["id"], "Failed")
    assert "1 retries used by policy 'retry policy'" in done["stages"][0]["logs"][-1]["message"]


async def test_timeout_policy_bounds_the_lease_and_the_job_says_so(api: Api) -> None:
    await policy(api, "timeout", {"timeoutMs": 300, "appliesTo": "step"},
                 targeting={"stages": ["bounded"]})
    p = await api.create([{"stageName": "bounded", "stageHandlerName": "slowpoke"}])
    r = await api.pull("slowpoke", wait=5)
    assert r.status_code == 200
    assert r.json()["payload"]["timeoutSeconds"] == 0.3
    done = await api.wait_status(p["id"], "Failed")
    assert "timed out after 0.3s (policy 'timeout policy'" in " ".join(
        m["message"] for m in done["stages"][0]["logs"])
    late = await api.ack(r.json()["token"])
    assert late.status_code in (404, 409)
    assert (await api.pipeline(p["id"]))["status"] == "Failed"


async def test_run_next_if_failed_and_fail_if_output_empty(api: Api) -> None:
    p = await api.create([
        {"stageName": "a", "stageHandlerName": "opt_a", "options": {"runNextIfFailed": True}},
        {"stageName": "b", "stageHandlerName": "opt_b", "options": {"failIfOutputEmpty": True}},
    ])
    await drain(api, "opt_a", 1, ok=False)  # tolerated: the next stage runs
    r = await api.pull("opt_b", wait=5)
    assert r.status_code == 200
    assert (await api.ack(r.json()["token"], isSuccess=True, result="  ")).status_code == 200
    done = await api.wait_status(p["id"], "Failed")
    assert [s["status"] for s in done["stages"]] == ["Failed", "Failed"]
    assert "failIfOutputEmpty" in done["stages"][1]["logs"][-1]["message"]

    q = await api.create([
        {"stageName": "a", "stageHandlerName": "opt_a", "options": {"runNextIfFailed": True}},
        {"stageName": "b", "stageHandlerName": "opt_b"},
    ])
    await drain(api, "opt_a", 1, ok=False)
    await drain(api, "opt_b", 1)
    tolerated = await api.wait_status(q["id"], "Completed")
    assert [s["status"] for s in tolerated["stages"]] == ["Failed", "Completed"]
