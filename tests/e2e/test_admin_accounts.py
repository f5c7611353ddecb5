"""Applications (read, update, delete) and their members on the internal API."""

from __future__ import annotations

from conftest import Api
from dbsnapshot import query, snapshot
from test_admin_support import db, error, logged_in, make_user, new_app, worker


async def test_application_detail_with_counts(api: Api) -> None:
    await api.create([{"stageName": "a", "stageHandlerName": "h"}])
    await worker(api)
    r = await api.internal.get(f"/api/applications/{api.application_id}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["name"] == "default"
    assert (doc["pipelineCount"], doc["workerCount"], doc["activeKeyCount"]) == (1, 1, 1)
    error(await api.internal.get("/api/applications/999"), 404)


async def test_update_name_and_description(api: Api) -> None:
    other = await new_app(api, "other")
    url = f"/api/applications/{api.application_id}"
    r = await api.internal.put(url, json={"name": " renamed ", "description": "about"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == ("renamed", "about")
    r = await api.internal.put(url, json={"name": "renamed"})  # description kept
    assert r.json()["description"] == "about"
    r = await api.internal.put(url, json={"name": "renamed", "description": ""})  # cleared
    assert r.json()["description"] is None

    before = snapshot(db(api))
    assert "exists" in error(await api.internal.put(url, json={"name": "other"}), 409)
    assert "name" in error(await api.internal.put(url, json={"name": "  "}), 400)
    error(await api.internal.put(url, json={"description": "no name"}), 400)
    error(await api.internal.put(url, json={"name": 5}), 400)
    error(await api.internal.put("/api/applications/999", json={"name": "x"}), 404)
    assert snapshot(db(api)) == before
    assert (await api.internal.get(f"/api/applications/{other}")).json()["name"] == "other"


async def test_delete_only_an_empty_application(api: Api) -> None:
    url = f"/api/applications/{api.application_id}"
    p = await api.create([{"stageName": "a", "stageHandlerName": "h"}])
    await api.wait_for(p["id"], lambda d: d["stages"][0]["status"] == "Pending")
    before = snapshot(db(api))
    msg = error(await api.internal.delete(url), 409)
    assert "1 pipeline(s)" in msg and "1 active API key(s)" in msg
    assert snapshot(db(api)) == before

    spare = await new_app(api, "spare")
    assert (await api.internal.get("/api/apikeys", params={"applicationId": spare})).json() == []
    await api.new_key(spare)
    await worker(api, await api.new_key(spare))
    msg = error(await api.internal.delete(f"/api/applications/{spare}"), 409)
    assert "worker(s)" in msg

    empty = await new_app(api, "empty")
    await api.new_key(empty)
    key = (await api.internal.get("/api/apikeys", params={"applicationId": empty})).json()[0]
    error(await api.internal.delete(f"/api/applications/{empty}"), 409)  # an active key
    r = await api.internal.post(f"/api/apikeys/{key['id']}/disable")
    assert r.status_code == 200
    r = await api.internal.delete(f"/api/applications/{empty}")
    assert r.status_code == 200, r.text
    assert not query(db(api), "SELECT 1 FROM api_keys WHERE application_id = ?", empty)
    assert not query(db(api), "SELECT 1 FROM user_applications WHERE application_id = ?", empty)
    error(await api.internal.get(f"/api/applications/{empty}"), 404)
    error(await api.internal.delete(f"/api/applications/{empty}"), 404)


async def test_members_add_list_remove(api: Api) -> None:
    app_b = await new_app(api, "b")
    uid = await make_user(api, "bob@example.com")
    url = f"/api/applications/{app_b}/members"
    r = await api.internal.post(url, json={"userId": uid})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "bob@example.com"
    members = (await api.internal.get(url)).json()
    assert {m["userId"] for m in members} == {uid, 1}  # the creator is a member too
    assert all("password" not in str(m).lower() for m in members)

    before = snapshot(db(api))
    assert "already a member" in error(await api.internal.post(url, json={"userId": uid}), 409)
    error(await api.internal.post(url, json={"userId": 999}), 404)
    error(await api.internal.post(url, json={}), 400)
    error(await api.internal.post(url, json={"userId": "bob"}), 400)
    error(await api.internal.post("/api/applications/999/members", json={"userId": uid}), 404)
    error(await api.internal.delete(f"{url}/999"), 404)
    assert snapshot(db(api)) == before

    async with logged_in(api, "bob@example.com") as bob:
        assert (await bob.get("/api/auth/me")).json()["applicationIds"] == [app_b]
        r = await api.internal.delete(f"{url}/{uid}")
        assert r.status_code == 200, r.text
        assert (await bob.get("/api/auth/me")).json()["applicationIds"] == []
        error(await bob.get(f"/api/applications/{app_b}"), 404)
    error(await api.internal.delete(f"{url}/{uid}"), 404)


async def test_regular_user_may_read_and_rename_but_not_administer(api: Api) -> None:
    app_b = await new_app(api, "b")
    uid = await make_user(api, "rita@example.com", apps=(app_b,))
    other = await make_user(api, "otto@example.com")
    async with logged_in(api, "rita@example.com") as rita:
        assert (await rita.get(f"/api/applications/{app_b}")).status_code == 200
        members = (await rita.get(f"/api/applications/{app_b}/members")).json()
        assert uid in {m["userId"] for m in members}
        r = await rita.put(f"/api/applications/{app_b}", json={"name": "b2"})
        assert r.status_code == 200, r.text
        before = snapshot(db(api))
        error(await rita.delete(f"/api/applications/{app_b}"), 403)
        error(await rita.post(f"/api/applications/{app_b}/members", json={"userId": other}),
              403)
        error(await rita.delete(f"/api/applications/{app_b}/members/{uid}"), 403)
        assert snapshot(db(api)) == before
