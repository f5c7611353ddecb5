"""Helpers shared by the `test_admin_*` modules (this module holds no tests): a second tenant,
a logged-in RegularUser, workers, and running a stage to its end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx

from conftest import Api
from pipelogiq.security import hash_password

PASSWORD = "regular-user-password"


def db(api: Api) -> str:
    return api.running.services.settings.sqlite_path


async def new_app(api: Api, name: str) -> int:
    r = await api.internal.post("/api/applications", json={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def create_in(api: Api, key: str, stages: list[dict[str, Any]], name: str = "p",
                    **extra: Any) -> dict[str, Any]:
    r = await api.external.post("/pipelines", headers=api.key(key),
                                json={"name": name, "stages": stages, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def run_stage(api: Api, handler: str, ok: bool = True, key: str | None = None,
                    **ack: Any) -> None:
    """Pull one job of `handler` (with `key`, default A's) and ack it."""
    r = await api.external.post("/jobs/pull", headers=api.key(key),
                                json={"handlerName": handler, "waitSeconds": 5})
    assert r.status_code == 200, r.text
    a = await api.external.post("/jobs/ack", headers=api.key(key), json={
        "token": r.json()["token"], "isSuccess": ok, "result": "out" if ok else "bad", **ack})
    assert a.status_code == 200, a.text


async def worker(api: Api, key: str | None = None, name: str = "w",
                 state: str = "ready") -> str:
    """A bootstrapped worker with one heartbeat and one event; returns its id."""
    r = await api.external.post("/workers/bootstrap", headers=api.key(key),
                                json={"workerName": name, "supportedHandlers": ["h"],
                                      "metadata": {"zone": "eu"}})
    assert r.status_code == 200, r.text
    boot = r.json()
    session = {"X-Worker-Session": boot["workerSessionToken"]}
    wid = str(boot["workerId"])
    r = await api.external.post("/workers/heartbeat", headers=session,
                                json={"workerId": wid, "state": state, "cpuPercent": 12.5,
                                      "inFlightJobs": 0, "jobsProcessed": 3})
    assert r.status_code == 200, r.text
    r = await api.external.post("/workers/events", headers=session, json={
        "workerId": wid, "events": [{"eventType": "custom", "message": "hello",
                                     "details": {"n": 1}}]})
    assert r.status_code == 200, r.text
    return wid


async def make_user(api: Api, email: str, role: str = "RegularUser",
                    apps: tuple[int, ...] = ()) -> int:
    """A user created in the store, made a member of `apps` through the members route."""
    user_id = await api.running.services.store.create_user(email, email.split("@")[0], role,
                                                           hash_password(PASSWORD))
    assert user_id is not None
    for app_id in apps:
        r = await api.internal.post(f"/api/applications/{app_id}/members",
                                    json={"userId": user_id})
        assert r.status_code == 201, r.text
    return user_id


@asynccontextmanager
async def logged_in(api: Api, email: str,
                    password: str = PASSWORD) -> AsyncIterator[httpx.AsyncClient]:
    url = api.running.internal_url
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Origin": url}) as client:
        r = await client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        yield client


def error(r: httpx.Response, status: int) -> str:
    """Assert a JSON error of `status`; returns its message."""
    assert r.status_code == status, (r.status_code, r.text)
    doc = r.json()["error"]
    assert set(doc) == {"code", "message"}, doc
    return str(doc["message"])


@attrs.define
class Member:
    """A logged-in RegularUser who is a member of a second application only."""

    client: httpx.AsyncClient
    application_id: int
    key: str


@asynccontextmanager
async def other_tenant(api: Api, email: str = "bob@example.com") -> AsyncIterator[Member]:
    """A new application B, an API key of it, and its only member logged in."""
    app_b = await new_app(api, "tenant-b")
    key = await api.new_key(app_b)
    await make_user(api, email, apps=(app_b,))
    async with logged_in(api, email) as client:
        yield Member(client, app_b, key)
