"""Shared fixtures: a real server (SQLite file, HTTP on port 0) and an HTTP helper."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

import pgdb
import rabbit
from pipelogiq.app import Running, run_server
from pipelogiq.config import Settings

pytest_plugins = ["storekit"]  # the store-level fixtures (clock, open_store, store)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery"

logging.getLogger("httpx").setLevel(logging.WARNING)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/pipelogiq.db",
        "http_addr": ("127.0.0.1", 0),
        "external_http_addr": ("127.0.0.1", 0),
        "metrics_addr": ("127.0.0.1", 0),
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "jwt_secret": "test-secret-" + "x" * 40,
    }
    base.update(overrides)
    return Settings(**base)


@attrs.define
class Api:
    """A logged-in operator plus an API key of the default application."""

    running: Running
    internal: httpx.AsyncClient
    external: httpx.AsyncClient
    api_key: str = ""
    application_id: int = 0

    async def setup(self) -> Api:
        r = await self.internal.post("/api/auth/login",
                                     json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        apps = (await self.internal.get("/api/applications")).json()
        self.application_id = apps[0]["id"]
        self.api_key = await self.new_key(self.application_id)
        return self

    async def new_key(self, application_id: int, **extra: Any) -> str:
        r = await self.internal.post("/api/apikeys",
                                     json={"applicationId": application_id, "name": "t", **extra})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    def key(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.api_key}

    async def create(self, stages: list[dict[str, Any]], name: str = "p",
                     **extra: Any) -> dict[str, Any]:
        r = await self.external.post("/pipelines", headers=self.key(),
                                     json={"name": name, "stages": stages, **extra})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def pipeline(self, pid: int) -> dict[str, Any]:
        r = await self.internal.get(f"/api/pipelines/{pid}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def pull(self, handler: str, wait: float = 0, **extra: Any) -> httpx.Response:
        return await self.external.post(
            "/jobs/pull", headers=self.key(),
            json={"handlerName": handler, "waitSeconds": wait, **extra})

    async def ack(self, token: str, **extra: Any) -> httpx.Response:
        return await self.external.post("/jobs/ack", headers=self.key(),
                                        json={"token": token, **extra})

    async def wait_status(self, pid: int, *statuses: str) -> dict[str, Any]:
        """Wait for a pipeline status, woken by the hub (no polling on a timer)."""
        return await self.wait_for(pid, lambda doc: doc["status"] in statuses)

    async def wait_for(self, pid: int, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Wait until the pipeline's JSON satisfies `done`, re-reading it on each change."""
        hub = self.running.services.hub
        changes = hub.subscribe()
        async with changes:
            while True:
                doc = await self.pipeline(pid)
                if done(doc):
                    return doc
                while await changes.receive() != pid:
                    pass


def _client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30)


@pytest.fixture
def spawned() -> Iterator[list[Any]]:
    """Server processes a test starts; any still running at teardown are killed."""
    procs: list[Any] = []
    yield procs
    for proc in procs:
        proc.kill_if_running()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped after the test."""
    if not pgdb.available():
        pytest.skip("needs the machine's PostgreSQL on 127.0.0.1:5432")
    with pgdb.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[list[str]]:
    """Databases made for `settings` under TEST_DATABASE=postgres, dropped at the end of the
    session (a test's own teardown would race its server's shutdown)."""
    urls: list[str] = []
    yield urls
    for url in urls:
        pgdb.drop(url)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """SQLite; TEST_DATABASE=postgres runs the same tests on a fresh PostgreSQL database."""
    if os.environ.get("TEST_DATABASE") == "postgres":
        url = pgdb.create()
        request.getfixturevalue("pg_databases").append(url)
        return make_settings(tmp_path, database_url=url)
    return make_settings(tmp_path)


@pytest.fixture
async def server(nursery: trio.Nursery, settings: Settings) -> AsyncIterator[Running]:
    closing = trio.Event()
    running: Running = await nursery.start(
        functools.partial(run_server, settings, closing=closing))
    yield running
    closing.set()


@pytest.fixture
async def api(server: Running) -> AsyncIterator[Api]:
    origin = server.internal_url
    async with _client(server.internal_url) as internal, _client(server.external_url) as ext:
        internal.headers["Origin"] = origin
        yield await Api(server, internal, ext).setup()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A fresh RABBIT_NAME_PREFIX on the machine's RabbitMQ; what was declared under it is
    deleted afterwards."""
    prefix = rabbit.new_prefix()
    yield prefix
    await rabbit.delete_prefix(prefix)


@pytest.fixture
async def serve(nursery: trio.Nursery) -> AsyncIterator[Callable[[Settings], Awaitable[Api]]]:
    """Starts `run_server` with the given settings (as many as a test needs), logged in as the
    admin; each is told to stop at teardown."""
    closings: list[trio.Event] = []

    async def start(settings: Settings) -> Api:
        closing = trio.Event()
        closings.append(closing)
        running: Running = await nursery.start(
            functools.partial(run_server, settings, closing=closing))
        internal = httpx.AsyncClient(base_url=running.internal_url, timeout=30)
        internal.headers["Origin"] = running.internal_url
        external = httpx.AsyncClient(base_url=running.external_url, timeout=30)
        return await Api(running, internal, external).setup()

    yield start
    for closing in closings:
        closing.set()
