"""What the admin route modules share: query-string parsing that answers 400 with the name of
the bad parameter, the Admin check, and application scoping of list queries."""

from __future__ import annotations

import uuid

from quart import request

from pipelogiq.http.body import MAX_INT
from pipelogiq.http.errors import ApiError
from pipelogiq.http.user_auth import User

ROLES = ("Admin", "RegularUser")


def int_arg(name: str, default: int, lo: int = 1, hi: int = MAX_INT) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: expected an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name}: must be between {lo} and {hi}")
    return value


def choice_arg(name: str, choices: dict[str, float], default: str) -> tuple[str, float]:
    raw = request.args.get(name) or default
    if raw not in choices:
        raise ApiError(400, f"{name}: expected one of {', '.join(choices)}")
    return raw, choices[raw]


def require_admin(user: User) -> None:
    if user.role != "Admin":
        raise ApiError(403, "only an Admin may do this")


def scoped_apps(user: User) -> list[int]:
    """The user's applications, or just `?applicationId=` — which must be one of them (404
    otherwise, like any other application's resource)."""
    if request.args.get("applicationId") in (None, ""):
        return list(user.application_ids)
    app_id = int_arg("applicationId", 0)
    if app_id not in user.application_ids:
        raise ApiError(404, f"application {app_id} not found")
    return [app_id]


def worker_id_arg(raw: str) -> str:
    """Worker ids are UUIDs; anything else cannot name a worker."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(400, f"worker id {raw!r}: expected a UUID") from None
