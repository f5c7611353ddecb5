"""Users on the internal API: Admins list, create, change roles, disable and enable; everyone
changes their own password. Password hashes are never returned."""

from __future__ import annotations

import httpx

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from dbsnapshot import snapshot
from test_admin_support import PASSWORD, db, error, logged_in, make_user

NEW = {"email": "Carol@Example.com", "name": "Carol", "password": "long-enough",
       "role": "RegularUser"}


async def test_create_and_list_users_without_hashes(api: Api) -> None:
    r = await api.internal.post("/api/users", json=NEW)
    assert r.status_code == 201, r.text
    carol = r.json()
    assert (carol["email"], carol["role"], carol["disabled"]) == (
        "carol@example.com", "RegularUser", False)
    r = await api.internal.get("/api/users")
    assert r.status_code == 200
    assert [u["email"] for u in r.json()] == [ADMIN_EMAIL, "carol@example.com"]
    assert "password" not in r.text.lower() and "scrypt" not in r.text
    async with logged_in(api, "carol@example.com", "long-enough") as c:
        assert (await c.get("/api/auth/me")).json()["role"] == "RegularUser"


async def test_create_user_rejections_change_nothing(api: Api) -> None:
    await api.internal.post("/api/users", json=NEW)
    before = snapshot(db(api))
    assert "exists" in error(await api.internal.post(
        "/api/users", json={**NEW, "email": "carol@example.com"}), 409)
    for bad, word in (({"password": "short"}, "password"), ({"password": None}, "password"),
                      ({"role": "Root"}, "role"), ({"role": None}, "role"),
                      ({"email": "not-an-email"}, "email"), ({"email": None}, "email"),
                      ({"name": ""}, "name"), ({"name": 3}, "name")):
        msg = error(await api.internal.post("/api/users", json={**NEW, **bad}), 400)
        assert word in msg, (bad, msg)
    assert snapshot(db(api)) == before


async def test_change_role_and_keep_one_active_admin(api: Api) -> None:
    uid = await make_user(api, "dave@example.com")
    r = await api.internal.put(f"/api/users/{uid}/role", json={"role": "Admin"})
    assert r.status_code == 200 and r.json()["role"] == "Admin"
    async with logged_in(api, "dave@example.com") as dave:
        assert (await dave.get("/api/users")).status_code == 200
        # dave demotes the first admin, then is the last active Admin
        r = await dave.put("/api/users/1/role", json={"role": "RegularUser"})
        assert r.status_code == 200, r.text
        before = snapshot(db(api))
        assert "last active Admin" in error(
            await dave.put(f"/api/users/{uid}/role", json={"role": "RegularUser"}), 409)
        error(await dave.put(f"/api/users/{uid}/role", json={"role": "Boss"}), 400)
        error(await dave.put("/api/users/999/role", json={"role": "Admin"}), 404)
        assert snapshot(db(api)) == before
    error(await api.internal.get("/api/users"), 403)  # the first admin is no longer one


async def test_disable_and_enable(api: Api) -> None:
    uid = await make_user(api, "erin@example.com")
    async with logged_in(api, "erin@example.com") as erin:
        r = await api.internal.post(f"/api/users/{uid}/disable")
        assert r.status_code == 200 and r.json()["disabled"] is True
        again = await api.internal.post(f"/api/users/{uid}/disable")  # idempotent
        assert again.json()["disabledAt"] == r.json()["disabledAt"]
        error(await erin.get("/api/auth/me"), 401)  # the open session ends too
    r = await api.internal.post("/api/auth/login",
                                json={"email": "erin@example.com", "password": PASSWORD})
    assert r.status_code == 401
    r = await api.internal.post(f"/api/users/{uid}/enable")
    assert r.status_code == 200 and r.json()["disabled"] is False
    async with logged_in(api, "erin@example.com"):
        pass

    before = snapshot(db(api))
    assert "your own" in error(await api.internal.post("/api/users/1/disable"), 409)
    error(await api.internal.post("/api/users/999/disable"), 404)
    assert snapshot(db(api)) == before


async def test_last_active_admin_cannot_be_disabled(api: Api) -> None:
    uid = await make_user(api, "fay@example.com", role="Admin")
    async with logged_in(api, "fay@example.com") as fay:
        assert (await fay.post("/api/users/1/disable")).status_code == 200
        # fay is the last active Admin: the admin 1 (disabled) is not counted
        r = await fay.put("/api/users/1/role", json={"role": "RegularUser"})
        assert r.status_code == 200
        before = snapshot(db(api))
        error(await fay.post(f"/api/users/{uid}/disable"), 409)
        assert "last active Admin" in error(
            await fay.put(f"/api/users/{uid}/role", json={"role": "RegularUser"}), 409)
        assert snapshot(db(api)) == before


async def test_change_own_password(api: Api) -> None:
    await make_user(api, "gus@example.com")
    async with logged_in(api, "gus@example.com") as gus:
        before = snapshot(db(api))
        assert "wrong" in error(await gus.post("/api/users/me/password", json={
            "currentPassword": "nope-nope", "newPassword": "new-password"}), 403)
        assert "newPassword" in error(await gus.post("/api/users/me/password", json={
            "currentPassword": PASSWORD, "newPassword": "short"}), 400)
        error(await gus.post("/api/users/me/password", json={"newPassword": "new-password"}),
              400)
        assert snapshot(db(api)) == before
        r = await gus.post("/api/users/me/password", json={
            "currentPassword": PASSWORD, "newPassword": "new-password"})
        assert r.status_code == 200, r.text
    r = await api.internal.post("/api/auth/login",
                                json={"email": "gus@example.com", "password": PASSWORD})
    assert r.status_code == 401
    async with logged_in(api, "gus@example.com", "new-password"):
        pass


async def test_wrong_current_passwords_are_throttled(api: Api) -> None:
    async with logged_in(api, ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        codes = []
        for _ in range(7):
            r = await admin.post("/api/users/me/password", json={
                "currentPassword": "wrong-wrong", "newPassword": "new-password"})
            codes.append(r.status_code)
        assert codes[:5] == [403] * 5 and codes[-1] == 429
        assert "Retry-After" in r.headers


async def test_user_admin_routes_are_admin_only(api: Api) -> None:
    uid = await make_user(api, "hal@example.com")
    async with logged_in(api, "hal@example.com") as hal:
        before = snapshot(db(api))
        for method, path, body in (
                ("GET", "/api/users", None), ("POST", "/api/users", NEW),
                ("PUT", f"/api/users/{uid}/role", {"role": "Admin"}),
                ("POST", "/api/users/1/disable", None), ("POST", f"/api/users/{uid}/enable", None)):
            error(await hal.request(method, path, json=body), 403)
        assert snapshot(db(api)) == before
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        error(await anon.get("/api/users"), 401)
        error(await anon.post("/api/users/me/password", json={}), 401)
