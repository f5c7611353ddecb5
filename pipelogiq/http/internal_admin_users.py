"""Dashboard users on the internal API: Admins list, create, change roles, disable and
enable; everyone changes their own password. No answer ever carries a password hash.

Changing one's own password with a wrong `currentPassword` is 403 (the session is valid, the
proof is not), throttled like logins: after repeated failures the answer is 429."""

from __future__ import annotations

import re

import trio
from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.http.common import json_error, json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import ROLES, require_admin
from pipelogiq.http.login_throttle import LoginThrottle
from pipelogiq.http.user_auth import current_user
from pipelogiq.security import hash_password, verify_password
from pipelogiq.services import Services

ID = "int(max=9223372036854775807)"
MIN_PASSWORD = 8
MAX_PASSWORD = 1000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _password(value: str | None, name: str) -> str:
    if value is None or len(value) < MIN_PASSWORD:
        raise ApiError(400, f"{name}: at least {MIN_PASSWORD} characters")
    return value


def _role(value: str | None) -> str:
    if value not in ROLES:
        raise ApiError(400, f"role: expected one of {', '.join(ROLES)}")
    return value


def add_user_routes(app: QuartTrio, services: Services) -> None:
    store = services.store
    throttle = LoginThrottle(services.clock.now)

    @app.get("/api/users")
    async def users() -> Response:
        require_admin(await current_user(services))
        return json_response(await store.list_users())

    @app.post("/api/users")
    async def create_user() -> Response:
        """`{email, name, password, role}` → 201 the user; an email in use is 409."""
        require_admin(await current_user(services))
        body = await read_body()
        email = (body.string("email", required=True, max_len=320) or "").strip().lower()
        if not EMAIL.match(email):
            raise ApiError(400, "email: expected an email address")
        name = (body.string("name", required=True, max_len=200) or "").strip()
        password = _password(body.string("password", max_len=MAX_PASSWORD), "password")
        role = _role(body.string("role", required=True, max_len=20))
        pw_hash = await trio.to_thread.run_sync(hash_password, password)
        user_id = await store.create_user(email, name, role, pw_hash)
        if user_id is None:
            raise ApiError(409, f"a user with email {email!r} exists")
        return json_response(await store.user_public(user_id), 201)

    @app.put(f"/api/users/<{ID}:user_id>/role")
    async def set_role(user_id: int) -> Response:
        require_admin(await current_user(services))
        body = await read_body()
        role = _role(body.string("role", required=True, max_len=20))
        return json_response(await store.set_user_role(user_id, role))

    @app.post(f"/api/users/<{ID}:user_id>/disable")
    async def disable(user_id: int) -> Response:
        admin = await current_user(services)
        require_admin(admin)
        return json_response(await store.set_user_disabled(user_id, True, admin.id))

    @app.post(f"/api/users/<{ID}:user_id>/enable")
    async def enable(user_id: int) -> Response:
        admin = await current_user(services)
        require_admin(admin)
        return json_response(await store.set_user_disabled(user_id, False, admin.id))

    @app.post("/api/users/me/password")
    async def change_password() -> Response:
        """`{currentPassword, newPassword}`: 403 when the current password is wrong."""
        user = await current_user(services)
        body = await read_body()
        current = body.string("currentPassword", required=True, max_len=MAX_PASSWORD) or ""
        new = _password(body.string("newPassword", max_len=MAX_PASSWORD), "newPassword")
        address = request.remote_addr or ""
        wait = throttle.retry_after(user.email, address)
        if wait > 0:
            response = json_error(429, "too many wrong passwords; try again later")
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        row = await store.user_by_id(user.id)
        if row is None:
            raise ApiError(401, "not logged in")
        if not await trio.to_thread.run_sync(verify_password, current, row["password_hash"]):
            throttle.failed(user.email, address)
            raise ApiError(403, "currentPassword is wrong")
        throttle.succeeded(user.email)
        await store.set_user_password(user.id, await trio.to_thread.run_sync(hash_password, new))
        return json_response({"status": "ok"})
