"""Tenant isolation of every admin resource: a RegularUser who is a member of application B
only gets 404 for anything of application A, sees only B in lists and stats, gets 403 on
Admin-only routes, and none of those refusals changes the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import Api
from dbsnapshot import snapshot
from test_admin_support import create_in, db, error, logged_in, make_user, new_app, run_stage
from test_admin_support import worker as new_worker


@dataclass
class World:
    app_a: int
    app_b: int
    pipeline_a: dict[str, Any]
    pipeline_b: dict[str, Any]
    worker_a: str
    worker_b: str


@pytest.fixture
async def world(api: Api) -> World:
    app_b = await new_app(api, "tenant-b")
    key_b = await api.new_key(app_b)
    a = await api.create([{"stageName": "a", "stageHandlerName": "ha"}],
                         pipelineKeywords=[{"key": "owner", "value": "alice"}],
                         pipelineContextItems=[{"key": "secret", "value": "a-only"}])
    b = await create_in(api, key_b, [{"stageName": "b", "stageHandlerName": "hb"}],
                        pipelineKeywords=[{"key": "owner", "value": "bob"}])
    await run_stage(api, "ha")
    await run_stage(api, "hb", key=key_b)
    await api.wait_status(a["id"], "Completed")
    await api.wait_status(b["id"], "Completed")
    for key, message in ((api.api_key, "log of A"), (key_b, "log of B")):
        r = await api.external.post("/logs", headers=api.key(key), json={"message": message})
        assert r.status_code == 200
    world = World(api.application_id, app_b, a, b, await new_worker(api),
                  await new_worker(api, key_b))
    await make_user(api, "bea@example.com", apps=(app_b,))
    return world


def _a_urls(w: World) -> list[str]:
    pid, sid = w.pipeline_a["id"], w.pipeline_a["stages"][0]["id"]
    return [f"/api/pipelines/{pid}", f"/api/pipelines/{pid}/stages",
            f"/api/pipelines/{pid}/context", f"/api/pipelines/logs/{pid}",
            f"/api/pipelines/logs/{pid}/{sid}", f"/api/workers/{w.worker_a}",
            f"/api/workers/{w.worker_a}/events", f"/api/workers/{w.worker_a}/heartbeats",
            f"/api/applications/{w.app_a}", f"/api/applications/{w.app_a}/members"]


async def test_regular_user_gets_404_for_everything_of_another_application(
        api: Api, world: World) -> None:
    async with logged_in(api, "bea@example.com") as bea:
        for url in _a_urls(world):
            assert (await api.internal.get(url)).status_code == 200, url  # the Admin sees it
            error(await bea.get(url), 404)
        for url in ("/api/logs", "/api/keywords", "/api/stats/summary",
                    "/api/stats/executions"):
            error(await bea.get(url, params={"applicationId": world.app_a}), 404)
        # B's own resources answer
        pid = world.pipeline_b["id"]
        for url in (f"/api/pipelines/{pid}/stages", f"/api/pipelines/{pid}/context",
                    f"/api/pipelines/logs/{pid}", f"/api/workers/{world.worker_b}",
                    f"/api/workers/{world.worker_b}/events",
                    f"/api/applications/{world.app_b}"):
            assert (await bea.get(url)).status_code == 200, url


async def test_regular_user_mutations_on_another_application_change_nothing(
        api: Api, world: World) -> None:
    pid, sid = world.pipeline_a["id"], world.pipeline_a["stages"][0]["id"]
    before = snapshot(db(api))
    async with logged_in(api, "bea@example.com") as bea:
        error(await bea.delete(f"/api/pipelines/{pid}"), 404)
        error(await bea.put(f"/api/applications/{world.app_a}", json={"name": "mine"}), 404)
        for action, body in (("rerunStage", {"stageIds": [sid]}),
                             ("skipStage", {"stageIds": [sid]}),
                             ("retryNow", {"stageIds": [sid]}),
                             ("cancel", {"pipelineIds": [pid]})):
            r = await bea.post(f"/api/pipelines/{action}", json=body)
            assert r.status_code == 200, r.text
            assert [x["status"] for x in r.json()["results"]] == [404], action
        for method, path, body in (
                ("DELETE", f"/api/applications/{world.app_a}", None),
                ("DELETE", f"/api/applications/{world.app_b}", None),
                ("POST", f"/api/applications/{world.app_a}/members", {"userId": 1}),
                ("DELETE", f"/api/applications/{world.app_b}/members/1", None),
                ("GET", "/api/users", None),
                ("POST", "/api/users", {"email": "x@example.com", "name": "x",
                                        "password": "long-enough", "role": "Admin"}),
                ("PUT", "/api/users/1/role", {"role": "RegularUser"}),
                ("POST", "/api/users/1/disable", None)):
            error(await bea.request(method, path, json=body), 403)
    assert snapshot(db(api)) == before


async def test_regular_user_lists_and_stats_show_only_its_application(
        api: Api, world: World) -> None:
    async with logged_in(api, "bea@example.com") as bea:
        logs = (await bea.get("/api/logs")).json()
        assert [x["message"] for x in logs["items"]] == ["log of B"]
        assert logs["totalCount"] == 1
        assert (await bea.get("/api/keywords")).json() == [{"key": "owner", "values": ["bob"]}]
        summary = (await bea.get("/api/stats/summary", params={"range": "1h"})).json()
        assert summary["pipelinesCreated"] == 1 and summary["stagesCompleted"] == 1
        assert sum(summary["workersByState"].values()) == 1
        buckets = (await bea.get("/api/stats/executions", params={"range": "1h"})).json()
        assert sum(b["created"] for b in buckets) == 1
        members = (await bea.get(f"/api/applications/{world.app_b}/members")).json()
        assert "bea@example.com" in {m["email"] for m in members}
    # the Admin sees both
    summary = (await api.internal.get("/api/stats/summary", params={"range": "1h"})).json()
    assert summary["pipelinesCreated"] == 2
    logs = (await api.internal.get("/api/logs")).json()
    assert logs["totalCount"] == 2


async def test_anonymous_requests_are_401(api: Api, world: World) -> None:
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        for url in [*_a_urls(world), "/api/logs", "/api/keywords", "/api/stats/summary",
                    "/api/stats/executions", "/api/users"]:
            error(await anon.get(url), 401)
