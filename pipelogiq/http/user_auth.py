"""Dashboard users: the JWT cookie (SPEC §7) and the checks every internal route makes."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import attrs
import jwt
from quart import Response, request

from pipelogiq.http.errors import ApiError
from pipelogiq.services import Services

COOKIE = "authKey"
TOKEN_TTL = 7 * 24 * 3600


@attrs.frozen
class User:
    id: int
    email: str
    name: str
    role: str
    application_ids: tuple[int, ...]

    @property
    def label(self) -> str:
        return self.email


def issue_cookie(services: Services, response: Response, user_id: int) -> None:
    now = int(time.time())
    token = jwt.encode({"sub": str(user_id), "iat": now, "exp": now + TOKEN_TTL},
                       services.jwt_secret, algorithm="HS256")
    response.set_cookie(COOKIE, token, max_age=TOKEN_TTL, httponly=True, samesite="Lax",
                        secure=_secure(services), path="/")


def clear_cookie(services: Services, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax",
                           secure=_secure(services))


def _secure(services: Services) -> bool:
    configured = services.settings.cookie_secure
    if configured is not None:
        return configured
    return request.headers.get("X-Forwarded-Proto", "").lower() == "https" and _from_trusted(
        services)


def _from_trusted(services: Services) -> bool:
    import ipaddress

    try:
        addr = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    return any(addr in net for net in services.settings.trusted_networks)


def check_origin() -> None:
    """A mutation from another site's page is refused (a request with no Origin, as from
    curl, passes). Applied to every internal route, so login and logout are covered too."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin")
    if not origin:
        return
    if urlsplit(origin).netloc != request.host:
        raise ApiError(403, "cross-origin request refused")


async def current_user(services: Services) -> User:
    """The user of this request's cookie; 401 when there is none or it is no longer valid."""
    return await user_from_token(services, request.cookies.get(COOKIE))


async def user_from_token(services: Services, token: str | None) -> User:
    """The user a session token (the cookie's value) stands for, with the applications they
    may see; ApiError(401) when missing, invalid, expired or the user is disabled."""
    if not token:
        raise ApiError(401, "not logged in")
    try:
        claims: dict[str, Any] = jwt.decode(token, services.jwt_secret, algorithms=["HS256"])
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise ApiError(401, "session expired or invalid; log in again") from None
    row = await services.store.user_by_id(user_id)
    if row is None or row["disabled_at"] is not None:
        raise ApiError(401, "user is disabled")
    apps = await services.store.visible_application_ids(user_id)
    return User(user_id, row["email"], row["name"], row["role"], tuple(apps))
