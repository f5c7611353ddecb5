"""Security properties not covered elsewhere: API keys and pipelines are scoped to the
user's applications, the JWT secret is generated (never a constant) and shared through the
database, and a crash answers without a stack trace."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import trio

from conftest import Api, make_settings
from dbsnapshot import snapshot
from pipelogiq.app import Running, run_server
from test_admin_support import db, error, logged_in, make_user, new_app


async def test_api_keys_and_pipelines_are_scoped(api: Api) -> None:
    app_b = await new_app(api, "tenant-b")
    key_b_secret = await api.new_key(app_b)
    keys = (await api.internal.get("/api/apikeys")).json()
    key_a = next(k for k in keys if k["applicationId"] == api.application_id)
    p_a = await api.create([{"stageName": "s", "stageHandlerName": "h"}])
    await make_user(api, "bea@example.com", apps=(app_b,))
    before = snapshot(db(api))
    async with logged_in(api, "bea@example.com") as bea:
        listed = (await bea.get("/api/apikeys")).json()
        assert {k["applicationId"] for k in listed} == {app_b}
        assert all("key" not in k and "keyHash" not in k for k in listed)  # never the secret
        error(await bea.post(f"/api/apikeys/{key_a['id']}/disable"), 404)
        error(await bea.post("/api/apikeys", json={"applicationId": api.application_id}), 404)
        error(await bea.get(f"/api/pipelines/{p_a['id']}"), 404)
        page = (await bea.get("/api/pipelines")).json()
        assert page["items"] == [] and page["totalCount"] == 0
        error(await bea.post("/api/pipelines", json={
            "applicationId": api.application_id, "name": "x",
            "stages": [{"stageName": "s", "stageHandlerName": "h"}]}), 404)
    assert snapshot(db(api)) == before
    assert key_b_secret not in str(keys)  # shown once, at creation only


async def _start(nursery: trio.Nursery, tmp_path: Path, **overrides: Any) -> tuple[
        Running, trio.Event]:
    closing = trio.Event()
    running: Running = await nursery.start(functools.partial(
        run_server, make_settings(tmp_path, **overrides), closing=closing))
    return running, closing


async def test_jwt_secret_is_generated_once_and_survives_restarts(tmp_path: Path) -> None:
    secrets = []
    for _ in range(2):
        async with trio.open_nursery() as nursery:
            running, closing = await _start(nursery, tmp_path, jwt_secret=None)
            secrets.append(running.services.jwt_secret)
            closing.set()
    assert secrets[0] == secrets[1]
    assert len(secrets[0]) >= 32 and "test-secret" not in secrets[0]
    other = tmp_path / "other"
    async with trio.open_nursery() as nursery:
        running, closing = await _start(nursery, other, jwt_secret=None)
        assert running.services.jwt_secret != secrets[0]  # per database, not in the source
        closing.set()


@pytest.mark.parametrize("which", ["internal", "external"])
async def test_a_crash_answers_without_a_stack_trace(api: Api, which: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = api.running.services.store

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals: /etc/passwd line 42")

    monkeypatch.setattr(store, "pipeline_json", broken)
    monkeypatch.setattr(store, "create_and_start", broken)  # creation answers from it
    if which == "internal":
        r = await api.internal.get("/api/pipelines/1")
    else:
        r = await api.external.post("/pipelines", headers=api.key(), json={
            "name": "p", "stages": [{"stageName": "s", "stageHandlerName": "h"}]})
    assert r.status_code == 500
    for leak in ("Traceback", "RuntimeError", "secret internals", ".py"):
        assert leak not in r.text
    assert "internal error" in r.text


async def test_the_database_holds_no_secret_in_clear(api: Api) -> None:
    boot = await api.external.post("/workers/bootstrap", headers=api.key(),
                                   json={"workerName": "w", "instanceId": "w-1"})
    session = boot.json()["workerSessionToken"]
    await api.create([{"stageName": "s", "stageHandlerName": "sec"}])
    pulled = await api.external.post("/jobs/pull", headers={"X-Worker-Session": session},
                                     json={"handlerName": "sec", "waitSeconds": 5})
    token = pulled.json()["token"]
    await api.running.services.store.ping()  # everything above is committed
    stored = b"".join(p.read_bytes() for p in Path(db(api)).parent.glob("pipelogiq.db*"))
    for secret in (api.api_key, session, token, "correct-horse-battery"):
        assert secret.encode() not in stored
