"""The external API's OpenAPI document names exactly the routes the app serves."""

from __future__ import annotations

import httpx

from pipelogiq.app import Running
from pipelogiq.http.external import create_external_app


async def test_openapi_matches_routes(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.external_url) as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    app = create_external_app(server.services)
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS") and rule.endpoint != "static"
    }
    assert documented == served
