"""The external API's OpenAPI document names exactly the routes the app serves."""

from __future__ import annotations

import re

import httpx

from conftest import Api
from pipelogiq.app import Running
from pipelogiq.http.external import create_external_app
from pipelogiq.http.internal import create_internal_app


async def test_openapi_matches_routes(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.external_url) as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    app = create_external_app(server.services)
    assert documented == set(app.routes())


def _openapi_path(rule: str) -> str:
    """`/api/x/<int(max=…):key_id>` → `/api/x/{key_id}`."""
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)


async def test_internal_openapi_matches_routes(api: Api) -> None:
    r = await api.internal.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (_openapi_path(rule.rule), method)
        for rule in create_internal_app(api.running.services).url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS") and rule.endpoint != "static"
    }
    assert documented == served
