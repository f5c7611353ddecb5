"""Applications (read, update, delete) and their members on the internal API. Listing and
creating applications are in `internal.py`. Reading and renaming are for any member; deleting
and changing members are for Admins."""

from __future__ import annotations

from quart import Response
from quart_trio import QuartTrio

from pipelogiq.http.common import json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import require_admin
from pipelogiq.http.user_auth import current_user
from pipelogiq.services import Services

ID = "int(max=9223372036854775807)"


def add_application_routes(app: QuartTrio, services: Services) -> None:
    store = services.store

    @app.get(f"/api/applications/<{ID}:app_id>")
    async def application(app_id: int) -> Response:
        user = await current_user(services)
        return json_response(await store.application_detail(app_id, user.application_ids))

    @app.put(f"/api/applications/<{ID}:app_id>")
    async def update_application(app_id: int) -> Response:
        """`{name, description?}`: `name` is required and unique (409); a missing or null
        `description` keeps the current one, an empty string clears it."""
        user = await current_user(services)
        body = await read_body()
        name = (body.string("name", required=True, max_len=200) or "").strip()
        description = body.string("description", max_len=2000)
        return json_response(await store.update_application(
            app_id, name, description, user.application_ids))

    @app.delete(f"/api/applications/<{ID}:app_id>")
    async def delete_application(app_id: int) -> Response:
        require_admin(await current_user(services))
        await store.delete_application(app_id)
        return json_response({"id": app_id, "deleted": True})

    @app.get(f"/api/applications/<{ID}:app_id>/members")
    async def members(app_id: int) -> Response:
        user = await current_user(services)
        return json_response(await store.application_members(app_id, user.application_ids))

    @app.post(f"/api/applications/<{ID}:app_id>/members")
    async def add_member(app_id: int) -> Response:
        user = await current_user(services)
        require_admin(user)
        body = await read_body()
        member = body.integer("userId", lo=1)
        if member is None:
            raise ApiError(400, "userId is required")
        added = await store.add_application_member(app_id, member, user.application_ids)
        return json_response(added, 201)

    @app.delete(f"/api/applications/<{ID}:app_id>/members/<{ID}:member_id>")
    async def remove_member(app_id: int, member_id: int) -> Response:
        user = await current_user(services)
        require_admin(user)
        await store.remove_application_member(app_id, member_id, user.application_ids)
        return json_response({"applicationId": app_id, "userId": member_id, "removed": True})
