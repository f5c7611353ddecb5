"""The composition root: builds every object with its dependencies and starts them in order
(store → broker → hub → alerter → engine → HTTP servers), and stops them in reverse on shutdown.

One function for the three process kinds (SPEC §1): `serve` (everything), `api` (the HTTP
servers with the job path of HTTP workers) and `engine` (pipelines, consumers, watchdogs and
the metrics server); the last two need PostgreSQL and RabbitMQ."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from pipelogiq.actors.alerter import Alerter
from pipelogiq.actors.cluster import Cluster, Role
from pipelogiq.actors.engine import Engine
from pipelogiq.actors.hub import Hub
from pipelogiq.actors.tracer import Tracer
from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.base import Broker
from pipelogiq.broker.memory import MemoryBroker
from pipelogiq.clock import Clock, SystemClock
from pipelogiq.config import Settings, format_addr
from pipelogiq.http.external import create_external_app
from pipelogiq.http.h1 import serve_h1
from pipelogiq.http.internal import create_internal_app
from pipelogiq.http.lean import LeanApp
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


def needs_services(settings: Settings, role: Role) -> str | None:
    """Why `role` cannot run with these settings, or None."""
    if role == "serve":
        return None
    missing = [name for name, ok in (("DATABASE_URL=postgresql://…",
                                      settings.database_kind == "postgresql"),
                                     ("RABBITMQ_URL=amqp://…", settings.rabbitmq_url is not None))
               if not ok]
    if not missing:
        return None
    return (f"pipelogiq {role} runs in distributed mode and needs {' and '.join(missing)} "
            "(replicas share their state through PostgreSQL and RabbitMQ); for one process "
            "use `pipelogiq serve`")


@asynccontextmanager
async def open_sidecar(settings: Settings) -> AsyncIterator[Sidecar | None]:
    """The asyncio sidecar asyncpg and aiormq run on, when either is configured."""
    if settings.database_kind == "sqlite" and settings.rabbitmq_url is None:
        yield None
        return
    async with Sidecar() as sidecar:
        yield sidecar


@asynccontextmanager
async def open_store(settings: Settings, clock: Clock,
                     sidecar: Sidecar | None = None) -> AsyncIterator[Store]:
    """SQLite (embedded), or PostgreSQL over the asyncio sidecar it needs (its own when
    none is given)."""
    if settings.database_kind == "sqlite":
        async with SqliteStore(settings.sqlite_path, clock) as lite:
            yield lite
        return
    if sidecar is None:
        async with Sidecar() as own, PostgresStore(settings.database_url, clock, own) as pg:
            yield pg
        return
    async with PostgresStore(settings.database_url, clock, sidecar) as pg:
        yield pg


async def start_broker(nursery: trio.Nursery, settings: Settings, sidecar: Sidecar | None,
                       role: Role) -> tuple[Broker, Cluster | None]:
    """The in-process broker, or RabbitMQ (started in `nursery`, connected) and the cluster
    link over it."""
    if settings.rabbitmq_url is None:
        return MemoryBroker(), None
    from pipelogiq.broker.rabbit_topology import RabbitConfig
    from pipelogiq.broker.rabbitmq import RabbitBroker  # aiormq: only when configured

    assert sidecar is not None
    rabbit = RabbitBroker(sidecar, RabbitConfig.from_settings(settings, f"pipelogiq-{role}"))
    log.info("connecting to RabbitMQ")
    await nursery.start(rabbit.run)
    return rabbit, Cluster(rabbit, role)


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
    role: Role = "serve",
    clock: Clock | None = None,
    extra: Callable[[Running], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
    closing: trio.Event | None = None,
) -> None:
    """The process of `role` (`pipelogiq serve`, `api` or `engine`). Returns after `closing`
    is set and the HTTP servers have drained; the engine is cancelled last."""
    problem = needs_services(settings, role)
    if problem is not None:
        raise ValueError(problem)
    clock = clock or SystemClock()
    closing = trio.Event() if closing is None else closing
    async with open_sidecar(settings) as sidecar, open_store(settings, clock, sidecar) as store:
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
            broker, cluster = await start_broker(root, settings, sidecar, role)
            metrics = Metrics()
            alerter = Alerter(store, clock, settings, metrics)
            await root.start(alerter.run)
            tracer = Tracer(store, settings, metrics)  # OTLP span export (idle when unset)
            await root.start(tracer.run)
            engine = Engine(store, broker, hub, clock, settings, metrics=metrics,
                            alerter=alerter, role=role, cluster=cluster, tracer=tracer)
            await root.start(engine.run)
            services = Services(settings, clock, store, engine, hub, jwt_secret, closing,
                                alerter=alerter)
            apps: list[tuple[Any, tuple[str, int]]] = []  # ASGI apps (Quart-Trio and lean) and their addresses
            if role != "engine":
                apps += [(create_internal_app(services), settings.http_addr),
                         (create_external_app(services), settings.external_http_addr)]
            if role != "api":
                apps.append((create_metrics_app(services), settings.metrics_addr))
            async with trio.open_nursery() as http:
                urls = []
                for app, addr in apps:
                    if isinstance(app, LeanApp):  # the external API: its own HTTP/1.1 server
                        bound = await http.start(functools.partial(
                            serve_h1, app, addr, shutdown_trigger=http_shutdown_trigger,
                            graceful_timeout=GRACE))
                    else:
                        bound = await http.start(functools.partial(
                            serve, app, _http_config(addr), shutdown_trigger=http_shutdown_trigger))
                    urls.append(bound[0])
                if role == "engine":
                    running = Running("", "", services, urls[0])
                    log.info("serving: engine, metrics %s", urls[0])
                else:
                    running = Running(urls[0], urls[1], services, urls[2] if role == "serve" else "")
                    log.info("serving: dashboard/API %s, external API %s%s", urls[0], urls[1],
                             f", metrics {urls[2]}" if role == "serve" else f" ({role})")
                if extra is not None:
                    root.start_soon(run_extra, running)
                task_status.started(running)
            hub.close()
            root.cancel_scope.cancel()
