"""Policies across tenants and roles (SPEC §7: every query is scoped to the user's
applications; another application's resource is 404), and the targets and preview routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import Api
from dbsnapshot import snapshot
from test_admin_support import Member, other_tenant

RATE = {"limit": 10, "windowSeconds": 60, "keyBy": "tenant"}
POLICY = {"name": "p", "type": "rate_limit", "rule": RATE}
BOB_EMAIL = "bob@example.com"  # other_tenant's default member


@pytest.fixture
async def bob(api: Api) -> AsyncIterator[Member]:
    async with other_tenant(api) as member:
        yield member


def db(api: Api) -> str:
    return api.running.services.settings.sqlite_path


async def create(client: httpx.AsyncClient, app_id: int | None, **over: Any) -> dict[str, Any]:
    r = await client.post("/api/policies", json={"applicationId": app_id, **POLICY, **over})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_another_applications_policy_is_404_everywhere(api: Api, bob: Member) -> None:
    a = await create(api.internal, api.application_id, name="A's")
    before = snapshot(db(api))
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/enable"),
                         ("POST", "/disable"), ("POST", "/pause"), ("POST", "/resume"),
                         ("POST", "/duplicate"), ("GET", "/audit"), ("GET", "/insights")]:
        r = await bob.client.request(method, f"/api/policies/{a['id']}{path}", json=POLICY)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["message"] == f"policy {a['id']} not found"
    assert snapshot(db(api)) == before


async def test_lists_show_only_own_and_global_policies(api: Api, bob: Member) -> None:
    a = await create(api.internal, api.application_id, name="A's")
    g = await create(api.internal, None, name="global")
    b = await create(bob.client, bob.application_id, name="B's")
    seen = {x["id"] for x in (await bob.client.get("/api/policies")).json()["items"]}
    assert seen == {b["id"], g["id"]}
    assert a["id"] not in seen
    r = await bob.client.get("/api/policies", params={"applicationId": api.application_id})
    assert r.status_code == 200 and r.json() == {"items": [], "totalCount": 0, "pageNumber": 1,
                                                 "pageSize": 50}
    r = await bob.client.get("/api/policies", params={"applicationId": bob.application_id})
    assert [x["id"] for x in r.json()["items"]] == [b["id"]]
    admin_sees = {x["id"] for x in (await api.internal.get("/api/policies")).json()["items"]}
    assert admin_sees == {a["id"], g["id"], b["id"]}


async def test_regular_user_creates_only_in_own_application(api: Api, bob: Member) -> None:
    before = snapshot(db(api))
    r = await bob.client.post("/api/policies", json={"applicationId": api.application_id,
                                                     **POLICY})
    assert r.status_code == 404
    r = await bob.client.post("/api/policies", json=POLICY)
    assert r.status_code == 400
    assert "applicationId is required" in r.json()["error"]["message"]
    r = await bob.client.post("/api/policies", json={"applicationId": None, **POLICY})
    assert r.status_code == 400
    assert snapshot(db(api)) == before
    b = await create(bob.client, bob.application_id)
    assert b["createdBy"] == BOB_EMAIL
    r = await bob.client.post(f"/api/policies/{b['id']}/pause")
    assert r.status_code == 200 and r.json()["updatedBy"] == BOB_EMAIL


async def test_global_policy_is_readable_but_only_an_admin_changes_it(api: Api,
                                                                      bob: Member) -> None:
    g = await create(api.internal, None, name="global")
    assert (await bob.client.get(f"/api/policies/{g['id']}")).status_code == 200
    assert (await bob.client.get(f"/api/policies/{g['id']}/audit")).status_code == 200
    assert (await bob.client.get(f"/api/policies/{g['id']}/insights")).status_code == 200
    before = snapshot(db(api))
    for method, path in [("PUT", ""), ("DELETE", ""), ("POST", "/disable"), ("POST", "/pause"),
                         ("POST", "/duplicate")]:
        r = await bob.client.request(method, f"/api/policies/{g['id']}{path}", json=POLICY)
        assert r.status_code == 403, (method, path, r.text)
        assert "only an Admin" in r.json()["error"]["message"]
    assert snapshot(db(api)) == before
    assert (await api.internal.post(f"/api/policies/{g['id']}/pause")).status_code == 200


async def _pipelines(api: Api, bob: Member) -> None:
    await api.create([{"stageName": "charge", "stageHandlerName": "payments"},
                      {"stageName": "ship", "stageHandlerName": "mailer"}], name="orders",
                     pipelineKeywords=[{"key": "tier", "value": "vip"}],
                     pipelineContextItems=[{"key": "environment", "value": "prod"}])
    await api.create([{"stageName": "charge", "stageHandlerName": "payments"}], name="orders",
                     pipelineContextItems=[{"key": "env", "value": '"staging"'}])
    r = await api.external.post("/pipelines", headers={"X-API-Key": bob.key}, json={
        "name": "b-flow", "stages": [{"stageName": "b-stage", "stageHandlerName": "b-handler"}],
        "pipelineKeywords": [{"key": "team", "value": "bees"}],
        "pipelineContextItems": [{"key": "environment", "value": "dev"}]})
    assert r.status_code == 200, r.text


async def test_targets_are_scoped_to_the_users_applications(api: Api, bob: Member) -> None:
    await _pipelines(api, bob)
    r = await bob.client.get("/api/policies/targets")
    assert r.status_code == 200, r.text
    assert r.json() == {"pipelines": ["b-flow"], "stages": ["b-stage"], "handlers": ["b-handler"],
                        "tags": ["bees"], "environments": ["all", "dev"]}
    a = (await api.internal.get("/api/policies/targets",
                                params={"applicationId": api.application_id})).json()
    assert a == {"pipelines": ["orders"], "stages": ["charge", "ship"],
                 "handlers": ["mailer", "payments"], "tags": ["vip"],
                 "environments": ["all", "prod", "staging"]}
    everything = (await api.internal.get("/api/policies/targets")).json()
    assert everything["pipelines"] == ["b-flow", "orders"]
    r = await bob.client.get("/api/policies/targets", params={"applicationId": api.application_id})
    assert r.json()["pipelines"] == [] and r.json()["environments"] == ["all"]


async def test_preview(api: Api, bob: Member) -> None:
    await _pipelines(api, bob)

    async def preview(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
        r = await client.post("/api/policies/preview", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    out = await preview(api.internal, targeting={"handlers": ["payments"]},
                        applicationId=api.application_id)
    assert (out["scannedPipelines"], out["matchedPipelines"], out["matchedStages"]) == (2, 2, 2)
    assert out["handlers"] == ["payments"]
    prod = await preview(api.internal, targeting={"environment": "prod"})
    assert (prod["matchedPipelines"], prod["matchedStages"]) == (1, 2)
    assert prod["pipelines"][0]["environment"] == "prod"
    assert [s["name"] for s in prod["pipelines"][0]["stages"]] == ["charge", "ship"]
    staging = await preview(api.internal, targeting={"environment": "staging",
                                                     "tagsExclude": ["vip"]})
    assert staging["matchedPipelines"] == 1
    vip = await preview(api.internal, targeting={"tagsInclude": ["VIP"], "stages": ["ship"]})
    assert (vip["matchedPipelines"], vip["matchedStages"]) == (1, 1)
    everything = await preview(api.internal)
    assert everything["scannedPipelines"] == 3 and everything["targeting"]["environment"] == "all"
    # Bob's preview scans only his application
    mine = await preview(bob.client, targeting={})
    assert (mine["scannedPipelines"], mine["matchedStages"]) == (1, 1)
    assert mine["pipelines"][0]["name"] == "b-flow"
    r = await bob.client.post("/api/policies/preview",
                              json={"applicationId": api.application_id})
    assert r.status_code == 404
    r = await bob.client.post("/api/policies/preview", json={"targeting": {"stages": [1]}})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "targeting.stages: expected an array of strings"
    r = await bob.client.post("/api/policies/preview", json={"limit": 0})
    assert r.status_code == 400
