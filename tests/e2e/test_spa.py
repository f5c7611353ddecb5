"""The dashboard bundle served at `/` by the internal server (pipelogiq/http/spa.py): files,
SPA fallback, cache headers, the API's JSON 404s left alone, no path traversal, and a plain
503 when the bundle is not built."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from conftest import make_settings
from pipelogiq.app import Running, run_server

INDEX = "<!doctype html><title>Pipelogiq</title><div id=root></div>"
ASSET = "console.log('dashboard')"


async def _start(nursery: trio.Nursery, tmp_path: Path) -> tuple[Running, trio.Event]:
    closing = trio.Event()
    running: Running = await nursery.start(
        functools.partial(run_server, make_settings(tmp_path), closing=closing))
    return running, closing


@pytest.fixture
async def spa_server(nursery: trio.Nursery, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A server whose bundle is a small dist/ made here (the env is read at app creation)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "x.js").write_text(ASSET)
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the bundle")
    monkeypatch.setenv("PIPELOGIQ_UI_DIST", str(dist))
    running, closing = await _start(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.internal_url, timeout=30) as client:
        yield client
    closing.set()


@pytest.fixture
async def bare_server(nursery: trio.Nursery, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A server with no bundle built."""
    monkeypatch.setenv("PIPELOGIQ_UI_DIST", str(tmp_path / "no-such-dist"))
    running, closing = await _start(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.internal_url, timeout=30) as client:
        yield client
    closing.set()


async def test_root_serves_index_without_cache(spa_server: httpx.AsyncClient) -> None:
    r = await spa_server.get("/")
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/pipelines/12", "/workers", "/login?next=%2Fpipelines",
                                  "/static/nothing", "/index.html"])
async def test_client_routes_fall_back_to_index(spa_server: httpx.AsyncClient, path: str) -> None:
    r = await spa_server.get(path)
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_long(spa_server: httpx.AsyncClient) -> None:
    r = await spa_server.get("/assets/x.js")
    assert r.status_code == 200
    assert r.text == ASSET
    assert r.headers["content-type"].startswith("text/javascript")
    assert "max-age=31536000" in r.headers["cache-control"]
    assert "immutable" in r.headers["cache-control"]
    head = await spa_server.head("/assets/x.js")
    assert head.status_code == 200
    assert head.content == b""
    other = await spa_server.get("/favicon.svg")
    assert other.headers["content-type"] == "image/svg+xml"
    assert "immutable" not in other.headers["cache-control"]


async def test_a_missing_asset_is_a_404_not_the_page(spa_server: httpx.AsyncClient) -> None:
    r = await spa_server.get("/assets/gone-1234.js")
    assert r.status_code == 404
    assert INDEX not in r.text


@pytest.mark.parametrize("path", ["/api/nope", "/api", "/ws/x", "/metrics/x", "/healthz/x",
                                  "/readyz/x", "/version/x"])
async def test_api_misses_stay_json_404(spa_server: httpx.AsyncClient, path: str) -> None:
    r = await spa_server.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "not_found"


async def test_api_and_health_routes_still_answer(spa_server: httpx.AsyncClient) -> None:
    assert (await spa_server.get("/healthz")).json() == {"status": "ok"}
    assert (await spa_server.get("/version")).headers["content-type"] == "application/json"
    assert (await spa_server.get("/api/auth/me")).status_code == 401
    # a non-GET miss is the API's error, never the page
    r = await spa_server.post("/nothing-here", json={})
    assert r.status_code in (404, 405)
    assert INDEX not in r.text


@pytest.mark.parametrize("raw", [
    "/..%2f..%2fetc/passwd", "/..%2f..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt",
    "/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
    "/..%5c..%5csecret.txt", "//etc/passwd", "/%2fetc%2fpasswd", "/assets/x.js%00.png",
])
async def test_paths_never_escape_the_bundle(spa_server: httpx.AsyncClient, raw: str) -> None:
    # send the path as given, without the client normalising `..` away
    r = await spa_server.send(spa_server.build_request("GET", httpx.URL(raw)))
    assert "outside the bundle" not in r.text
    assert "root:" not in r.text
    assert r.status_code in (200, 400, 404)
    if r.status_code == 200:
        assert r.text in (INDEX, ASSET) and r.text == INDEX


async def test_without_a_bundle_the_root_says_how_to_build_it(
        bare_server: httpx.AsyncClient) -> None:
    r = await bare_server.get("/")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/plain")
    assert "invoke ui" in r.text
    assert "Traceback" not in r.text
    assert (await bare_server.get("/pipelines/3")).status_code == 503
    assert (await bare_server.get("/api/nope")).status_code == 404
    assert (await bare_server.get("/healthz")).status_code == 200
