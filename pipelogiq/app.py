"""The composition root: builds every object with its dependencies and starts them in order
(store → broker → hub → alerter → engine → HTTP servers), and stops them in reverse on shutdown."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from pipelogiq.actors.alerter import Alerter
from pipelogiq.actors.engine import Engine
from pipelogiq.actors.hub import Hub
from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.memory import MemoryBroker
from pipelogiq.clock import Clock, SystemClock
from pipelogiq.config import Settings, format_addr
from pipelogiq.http.external import create_external_app
from pipelogiq.http.internal import create_internal_app
from pipelogiq.http.metrics_app import create_metrics_app
from pipelogiq.observability.metrics import Metrics
from pipelogiq.security import hash_password
from pipelogiq.services import Services
from pipelogiq.store.base import StoreError
from pipelogiq.store.interface import Store
from pipelogiq.store.postgres import PostgresStore
from pipelogiq.store.sqlite import SqliteStore

log = logging.getLogger("pipelogiq")

GRACE = 5.0  # seconds in-flight requests get after the first signal


@attrs.frozen
class Running:
    """What a started server reports: where it listens and its services (for tests)."""

    internal_url: str
    external_url: str
    services: Services
    metrics_url: str


@asynccontextmanager
async def open_store(settings: Settings, clock: Clock) -> AsyncIterator[Store]:
    """SQLite (embedded), or PostgreSQL over the asyncio sidecar it needs."""
    if settings.database_kind == "sqlite":
        async with SqliteStore(settings.sqlite_path, clock) as lite:
            yield lite
        return
    async with Sidecar() as sidecar, PostgresStore(settings.database_url, clock, sidecar) as pg:
        yield pg


async def ensure_admin(store: Store, settings: Settings) -> str | None:
    """The first-run admin and a default application. Returns a generated password, if any."""
    generated = None
    if await store.count_users() == 0:
        email = settings.admin_email or "admin@localhost"
        password = settings.admin_password or secrets.token_urlsafe(12)
        if await store.create_user(email, "Administrator", "Admin", hash_password(password)):
            log.info("created the first admin user %s", email)
            if not settings.admin_password:
                generated = f"{email} / {password}"
    if await store.count_applications() == 0:
        try:
            await store.create_application("default", "created at first start", None)
        except StoreError:  # another replica created it first
            pass
    return generated


def _http_config(addr: tuple[str, int]) -> Config:
    cfg = Config()
    cfg.bind = [format_addr(addr)]
    cfg.graceful_timeout = GRACE
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("hypercorn.error")
    return cfg


async def run_server(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extra: Callable[[Running], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
    closing: trio.Event | None = None,
) -> None:
    """Everything of `pipelogiq serve` in one process. Returns after `closing` is set and the
    HTTP servers have drained; the engine is cancelled last."""
    clock = clock or SystemClock()
    closing = trio.Event() if closing is None else closing
    async with open_store(settings, clock) as store:
        applied = await store.migrate()
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        jwt_secret = settings.jwt_secret or await store.get_or_set_setting(
            "jwt_secret", secrets.token_urlsafe(48))
        generated = await ensure_admin(store, settings)
        if generated:
            print(f"\n  First admin login (shown once): {generated}\n", flush=True)
        hub = Hub()
        extra_done = trio.Event()

        async def http_shutdown_trigger() -> None:
            # In-process clients (the demo worker) leave first, while the API still answers;
            # long polls are answered at once so the servers drain without waiting on them.
            await closing.wait()
            engine.close_intake()
            if extra is not None:
                with trio.move_on_after(GRACE):
                    await extra_done.wait()

        async def run_extra(running: Running) -> None:
            assert extra is not None
            try:
                await extra(running)
            finally:
                extra_done.set()

        async with trio.open_nursery() as root:
            metrics = Metrics()
            alerter = Alerter(store, clock, settings, metrics)
            await root.start(alerter.run)
            engine = Engine(store, MemoryBroker(), hub, clock, settings, metrics=metrics,
                            alerter=alerter)
            await root.start(engine.run)
            services = Services(settings, clock, store, engine, hub, jwt_secret, closing,
                                alerter=alerter)
            async with trio.open_nursery() as http:
                serve_int = functools.partial(serve, create_internal_app(services),
                                              _http_config(settings.http_addr),
                                              shutdown_trigger=http_shutdown_trigger)
                serve_ext = functools.partial(serve, create_external_app(services),
                                              _http_config(settings.external_http_addr),
                                              shutdown_trigger=http_shutdown_trigger)
                serve_metrics = functools.partial(serve, create_metrics_app(services),
                                                  _http_config(settings.metrics_addr),
                                                  shutdown_trigger=http_shutdown_trigger)
                internal = await http.start(serve_int)
                external = await http.start(serve_ext)
                metrics = await http.start(serve_metrics)
                running = Running(internal[0], external[0], services, metrics[0])
                log.info("serving: dashboard/API %s, external API %s, metrics %s", internal[0],
                         external[0], metrics[0])
                if extra is not None:
                    root.start_soon(run_extra, running)
                task_status.started(running)
            hub.close()
            root.cancel_scope.cancel()
