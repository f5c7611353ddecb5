"""Credentials on the external API (SPEC §4): API keys, worker sessions, or either."""

from __future__ import annotations

from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.lean import Request
from pipelogiq.security import digest
from pipelogiq.services import Services
from pipelogiq.store.base import Principal, StoreError


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("Authorization") or ""
    scheme, _, value = auth.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _api_key(request: Request, body: Body | None) -> str | None:
    h = request.headers
    return (h.get("X-API-Key") or h.get("apikey") or _bearer(request) or request.args.get("apiKey")
            or (body.string("apiKey") if body is not None else None))


def _session_token(request: Request) -> str | None:
    h = request.headers
    return (h.get("X-Worker-Session") or h.get("X-Worker-Token") or _bearer(request)
            or request.args.get("workerSessionToken"))


async def _by_key(services: Services, key: str) -> Principal:
    try:
        return Principal(await services.store.authenticate_key(digest(key)))
    except StoreError as exc:
        raise ApiError(401, exc.message) from None


async def _by_session(services: Services, token: str) -> Principal:
    try:
        return await services.store.authenticate_session(digest(token))
    except StoreError as exc:
        raise ApiError(401, exc.message) from None


async def api_key_principal(services: Services, request: Request,
                            body: Body | None = None) -> Principal:
    key = _api_key(request, body)
    if not key:
        raise ApiError(401, "missing API key")
    return await _by_key(services, key)


async def session_principal(services: Services, request: Request) -> Principal:
    token = _session_token(request)
    if not token:
        raise ApiError(401, "missing worker session token")
    return await _by_session(services, token)


async def job_principal(services: Services, request: Request, body: Body | None) -> Principal:
    """Job endpoints take a worker session or an API key; a Bearer value is tried as a
    session token first, then as a key."""
    h = request.headers
    session = h.get("X-Worker-Session") or h.get("X-Worker-Token") or request.args.get(
        "workerSessionToken")
    if session:
        return await _by_session(services, session)
    key = h.get("X-API-Key") or h.get("apikey") or request.args.get("apiKey") or (
        body.string("apiKey") if body is not None else None)
    if key:
        return await _by_key(services, key)
    bearer = _bearer(request)
    if not bearer:
        raise ApiError(401, "missing credentials: a worker session token or an API key")
    try:
        return await _by_session(services, bearer)
    except ApiError:
        return await _by_key(services, bearer)
