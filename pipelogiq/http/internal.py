"""The internal API (:8080) for the dashboard and operators: the part the SDK flow needs,
plus the operator actions of SPEC §3.10. Every query is scoped to the user's applications."""

from __future__ import annotations

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.http.common import add_health_routes, json_error, json_response, make_app, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin import add_admin_routes
from pipelogiq.http.internal_observability import add_observability_routes
from pipelogiq.http.internal_pipelines import add_pipeline_routes
from pipelogiq.http.internal_policies import add_policies_routes
from pipelogiq.http.job_input import parse_time
from pipelogiq.http.login_throttle import LoginThrottle
from pipelogiq.http.openapi_internal import internal_openapi
from pipelogiq.http.spa import add_spa_routes
from pipelogiq.http.user_auth import check_origin, clear_cookie, current_user, issue_cookie
from pipelogiq.http.ws import add_ws_route
from pipelogiq.security import hash_password, new_api_key, verify_password
from pipelogiq.services import Services

_DUMMY_HASH = hash_password("timing-equaliser")


def create_internal_app(services: Services) -> QuartTrio:
    app = make_app("pipelogiq-internal", json_error)
    add_health_routes(app, services)
    add_pipeline_routes(app, services)
    add_admin_routes(app, services)
    add_policies_routes(app, services)
    add_observability_routes(app, services)
    add_ws_route(app, services)
    add_spa_routes(app, services)
    store = services.store
    throttle = LoginThrottle(services.clock.now)

    @app.before_request
    async def same_origin_mutations() -> None:
        check_origin()

    @app.post("/api/auth/login")
    async def login() -> Response:
        body = await read_body()
        email = (body.string("email", required=True, max_len=320) or "").lower()
        password = body.string("password", required=True, max_len=1000) or ""
        address = request.remote_addr or ""
        wait = throttle.retry_after(email, address)
        if wait > 0:
            response = json_error(429, "too many failed logins; try again later")
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        user = await store.user_by_email(email)
        ok = verify_password(password, user["password_hash"] if user else _DUMMY_HASH)
        if not user or not ok or user["disabled_at"] is not None:
            throttle.failed(email, address)
            raise ApiError(401, "wrong email or password")
        throttle.succeeded(email)
        response = json_response({"id": user["id"], "email": user["email"],
                                  "name": user["name"], "role": user["role"]})
        issue_cookie(services, response, user["id"])
        return response

    @app.post("/api/auth/logout")
    async def logout() -> Response:
        response = json_response({"status": "ok"})
        clear_cookie(services, response)
        return response

    @app.get("/api/auth/me")
    async def me() -> Response:
        user = await current_user(services)
        return json_response({"id": user.id, "email": user.email, "name": user.name,
                              "role": user.role, "applicationIds": list(user.application_ids)})

    @app.get("/api/applications")
    async def applications() -> Response:
        user = await current_user(services)
        return json_response(await store.list_applications(user.application_ids))

    @app.post("/api/applications")
    async def create_application() -> Response:
        user = await current_user(services)
        body = await read_body()
        name = body.string("name", required=True, max_len=200) or ""
        created = await store.create_application(name, body.string("description", max_len=2000),
                                                 user.id)
        return json_response(created, 201)

    @app.get("/api/apikeys")
    async def api_keys() -> Response:
        user = await current_user(services)
        app_id = request.args.get("applicationId", type=int)
        scope = [a for a in user.application_ids if app_id is None or a == app_id]
        return json_response(await store.list_api_keys(scope))

    @app.post("/api/apikeys")
    async def create_api_key() -> Response:
        user = await current_user(services)
        body = await read_body()
        app_id = body.integer("applicationId", lo=1)
        if app_id is None:
            raise ApiError(400, "applicationId is required")
        if app_id not in user.application_ids:
            raise ApiError(404, f"application {app_id} not found")
        name = body.string("name", max_len=200) or "key"
        expires = body.string("expiresAt", max_len=64)
        expires_at = parse_time(expires, "expiresAt", 0.0) if expires else None
        if expires_at is not None and expires_at <= services.clock.now():
            raise ApiError(400, "expiresAt: must be in the future")
        secret, key_hash, prefix = new_api_key()
        created = await store.create_api_key(app_id, name, key_hash, prefix, expires_at)
        return json_response({**created, "key": secret}, 201)

    @app.post("/api/apikeys/<int(max=9223372036854775807):key_id>/disable")
    async def disable_api_key(key_id: int) -> Response:
        user = await current_user(services)
        return json_response(await store.disable_api_key(key_id, user.application_ids))

    @app.get("/api/openapi.json")
    async def openapi() -> Response:
        return json_response(internal_openapi())

    @app.get("/api/workers")
    async def workers() -> Response:
        user = await current_user(services)
        return json_response(await store.list_workers(
            list(user.application_ids), services.settings.worker_offline_after))

    return app
