"""Internal API routes: action policies (SPEC §6) — CRUD, status actions, duplicate, the
audit trail, trigger insights, what can be targeted and a preview of what a targeting matches.

A policy belongs to one of the user's applications, or to none (global: only an Admin creates
or changes one; everyone sees it, as it applies to their pipelines). Another application's
policy is a 404. A PUT replaces name, type, rule and targeting; the application stays and
status changes go through enable/disable/pause/resume. Enforcement is not here.
"""

from __future__ import annotations

import math
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq import policies as pol
from pipelogiq.config import ConfigError, parse_duration
from pipelogiq.http.body import Body
from pipelogiq.http.common import json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.user_auth import User, current_user
from pipelogiq.services import Services
from pipelogiq.store.policies_store import PolicyAccess, PolicyQuery, SortKey

ID = "<int(max=9223372036854775807):policy_id>"
SORT_KEYS: tuple[SortKey, ...] = ("name", "updatedAt", "type")
MIN_RANGE, MAX_RANGE = 60.0, 90 * 86400.0
MAX_BUCKETS = 1000
PREVIEW_LIMIT = 200


# -- query helpers (shared with the observability routes) ------------------------------------

def page_args(default_size: int = 50) -> tuple[int, int]:
    """`pageNumber` (≥ 1) and `pageSize` (1..200) from the query string."""
    try:
        page = int(request.args.get("pageNumber", 1))
        size = int(request.args.get("pageSize", default_size))
    except ValueError:
        raise ApiError(400, "pageNumber and pageSize must be integers") from None
    if page < 1 or not 1 <= size <= 200:
        raise ApiError(400, "pageNumber must be >= 1 and pageSize between 1 and 200")
    return page, size


def duration_arg(name: str, default: float, lo: float = MIN_RANGE,
                 hi: float = MAX_RANGE) -> float:
    """A duration query parameter (`15m`, `24h`, `7d`, …) between `lo` and `hi` seconds."""
    text = request.args.get(name)
    if not text:
        return default
    try:
        seconds = parse_duration(text)
    except ConfigError as exc:
        raise ApiError(400, f"{name}: {exc.detail}") from None
    if not lo <= seconds <= hi:
        raise ApiError(400, f"{name}: must be between {lo:g}s and {hi:g}s")
    return seconds


def application_arg(user: User) -> list[int] | None:
    """The user's applications narrowed by `applicationId`, or None when not given."""
    if "applicationId" not in request.args:
        return None
    wanted = request.args.get("applicationId", type=int)
    if wanted is None:
        raise ApiError(400, "applicationId must be an integer")
    return [a for a in user.application_ids if a == wanted]


def _access(user: User) -> PolicyAccess:
    return PolicyAccess(frozenset(user.application_ids), user.role == "Admin")


def _default_bucket(span: float) -> float:
    for limit, bucket in ((3600, 300), (86400, 3600), (7 * 86400, 6 * 3600)):
        if span <= limit:
            return float(bucket)
    return 86400.0


# -- parsing ---------------------------------------------------------------------------------

def _application(body: Body, user: User) -> int | None:
    app_id = body.integer("applicationId", lo=1)
    if app_id is None:
        if user.role != "Admin":
            raise ApiError(400, "applicationId is required (only an Admin can create a"
                                " global policy)")
        return None
    if app_id not in user.application_ids:
        raise ApiError(404, f"application {app_id} not found")
    return app_id


def _draft(body: Body, app_id: int | None, *, creating: bool) -> pol.PolicyDraft:
    try:
        name = pol.validate_name(body.raw("name"))
        policy_type = body.raw("type")
        if policy_type is None:
            raise pol.PolicyError("type is required")
        rule = pol.validate_rule(policy_type, body.raw("rule") if body.has("rule")
                                 else body.raw("rules"))
        targeting = pol.parse_targeting(body.raw("targeting"))
        status = "active"
        if creating and body.has("status"):
            status = pol.validate_status(body.raw("status"))
    except pol.PolicyError as exc:
        raise ApiError(400, exc.message) from None
    return pol.PolicyDraft(app_id, name, str(policy_type), rule, targeting, status)


def _list_query(user: User) -> PolicyQuery:
    args = request.args
    page, size = page_args()
    policy_type = args.get("type") or None
    if policy_type is not None and policy_type not in pol.POLICY_TYPES:
        raise ApiError(400, f"type: must be one of {', '.join(pol.POLICY_TYPES)}")
    status = args.get("status") or None
    if status is not None and status not in pol.STATUSES:
        raise ApiError(400, f"status: must be one of {', '.join(pol.STATUSES)}")
    sort_by = args.get("sortBy") or "updatedAt"
    if sort_by not in SORT_KEYS:
        raise ApiError(400, f"sortBy: must be one of {', '.join(SORT_KEYS)}")
    sort_dir = args.get("sortDir") or ("desc" if sort_by == "updatedAt" else "asc")
    if sort_dir not in ("asc", "desc"):
        raise ApiError(400, "sortDir: must be asc or desc")
    apps = application_arg(user)
    search = (args.get("search") or "").strip()[:200] or None
    return PolicyQuery(
        application_ids=list(user.application_ids) if apps is None else apps,
        include_global=apps is None, search=search, policy_type=policy_type, status=status,
        sort_by=sort_by, descending=sort_dir == "desc",
        page_number=page, page_size=size)


# -- routes ----------------------------------------------------------------------------------

def add_policies_routes(app: QuartTrio, services: Services) -> None:
    """Register the policies routes on the internal app."""
    store = services.store

    def changed(doc: dict[str, Any], action: str, user: User) -> dict[str, Any]:
        services.alerter.policy_changed(doc.get("applicationId"), doc["id"], doc.get("name"),
                                        action, user.label, doc.get("version"))
        return doc

    @app.get("/api/policies")
    async def list_policies() -> Response:
        user = await current_user(services)
        return json_response(await store.list_policies(_list_query(user)))

    @app.post("/api/policies")
    async def create_policy() -> Response:
        user = await current_user(services)
        body = await read_body()
        draft = _draft(body, _application(body, user), creating=True)
        return json_response(changed(await store.create_policy(draft, user.label), "created",
                                     user), 201)

    @app.get("/api/policies/targets")
    async def policy_targets() -> Response:
        user = await current_user(services)
        apps = application_arg(user)
        return json_response(await store.policy_targets(
            user.application_ids if apps is None else apps))

    @app.post("/api/policies/preview")
    async def preview_policy() -> Response:
        user = await current_user(services)
        body = await read_body()
        try:
            targeting = pol.parse_targeting(body.raw("targeting"))
        except pol.PolicyError as exc:
            raise ApiError(400, exc.message) from None
        limit = body.integer("limit", default=PREVIEW_LIMIT, lo=1, hi=1000) or PREVIEW_LIMIT
        apps = list(user.application_ids)
        app_id = body.integer("applicationId", lo=1)
        if app_id is not None:
            if app_id not in apps:
                raise ApiError(404, f"application {app_id} not found")
            apps = [app_id]
        facts = await store.recent_pipeline_facts(apps, limit)
        return json_response({"targeting": targeting.to_json(), **pol.preview(targeting, facts)})

    @app.get(f"/api/policies/{ID}")
    async def get_policy(policy_id: int) -> Response:
        user = await current_user(services)
        return json_response(await store.get_policy(policy_id, _access(user)))

    @app.put(f"/api/policies/{ID}")
    async def update_policy(policy_id: int) -> Response:
        user = await current_user(services)
        body = await read_body()
        draft = _draft(body, None, creating=False)
        version = body.integer("version", lo=1)
        doc = await store.update_policy(policy_id, draft, version, user.label, _access(user))
        await services.engine.release_held(policy_id)
        return json_response(changed(doc, "updated", user))

    @app.delete(f"/api/policies/{ID}")
    async def delete_policy(policy_id: int) -> Response:
        user = await current_user(services)
        await store.delete_policy(policy_id, user.label, _access(user))
        await services.engine.release_held(policy_id)
        services.alerter.policy_changed(None, policy_id, None, "deleted", user.label)
        return Response("", status=204)

    def status_action(action: str) -> None:
        async def handler(policy_id: int) -> Response:
            user = await current_user(services)
            doc = await store.set_policy_status(policy_id, action, user.label, _access(user))
            await services.engine.release_held(policy_id)
            return json_response(changed(doc, pol.TRANSITIONS[action].event, user))

        handler.__name__ = f"policy_{action}"
        app.post(f"/api/policies/{ID}/{action}")(handler)

    for action in pol.TRANSITIONS:
        status_action(action)

    @app.post(f"/api/policies/{ID}/duplicate")
    async def duplicate_policy(policy_id: int) -> Response:
        user = await current_user(services)
        return json_response(changed(await store.duplicate_policy(
            policy_id, user.label, _access(user)), "created", user), 201)

    @app.get(f"/api/policies/{ID}/audit")
    async def policy_audit(policy_id: int) -> Response:
        user = await current_user(services)
        page, size = page_args()
        triggered = request.args.get("triggered", "false")
        if triggered not in ("true", "false"):
            raise ApiError(400, "triggered: expected true or false")
        return json_response(await store.policy_audit(policy_id, _access(user), page, size,
                                                      triggered == "true"))

    @app.get(f"/api/policies/{ID}/insights")
    async def policy_insights(policy_id: int) -> Response:
        user = await current_user(services)
        span = duration_arg("range", 86400.0)
        bucket = duration_arg("bucket", _default_bucket(span), lo=60.0)
        if math.ceil(span / bucket) > MAX_BUCKETS:
            raise ApiError(400, f"bucket: range/bucket gives more than {MAX_BUCKETS} buckets")
        since = services.clock.now() - span
        return json_response(await store.policy_insights(policy_id, _access(user), since,
                                                         bucket))
