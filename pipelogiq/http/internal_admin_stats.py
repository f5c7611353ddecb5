"""Dashboard statistics, health under `/api`, and `/metrics` on the internal app.

Time ranges are measured back from the injected clock (`services.clock.now()`), never the
database's clock, so tests control them."""

from __future__ import annotations

import math

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.http.common import json_response
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import choice_arg, scoped_apps
from pipelogiq.http.user_auth import current_user
from pipelogiq.observability.metrics import Metrics
from pipelogiq.services import Services
from pipelogiq.store.base import iso
from pipelogiq.version import version_info

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
RANGES = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
BUCKETS = {"1m": MINUTE, "5m": 5 * MINUTE, "1h": HOUR, "1d": DAY}
DEFAULT_BUCKET = {"1h": "1m", "24h": "1h", "7d": "1h", "30d": "1d"}
MAX_BUCKETS = 1500  # 24h by the minute fits; 30d by the minute does not


def add_stats_routes(app: QuartTrio, services: Services) -> None:
    store = services.store
    offline_after = services.settings.worker_offline_after

    @app.get("/api/stats/summary")
    async def summary() -> Response:
        """`?range=1h|24h|7d|30d` (default 24h) `&applicationId=`."""
        user = await current_user(services)
        apps = scoped_apps(user)
        name, seconds = choice_arg("range", RANGES, "24h")
        now = services.clock.now()
        doc = await store.stats_summary(apps, now, now - seconds, offline_after)
        return json_response({"range": name, "from": iso(now - seconds), "to": iso(now), **doc})

    @app.get("/api/stats/executions")
    async def executions() -> Response:
        """`?range=&bucket=1m|5m|1h|1d&applicationId=` → `[{start, created, completed,
        failed}]`: buckets aligned to their width (UTC), oldest first, the last one being
        the current (partial) bucket."""
        user = await current_user(services)
        apps = scoped_apps(user)
        range_name, seconds = choice_arg("range", RANGES, "24h")
        _, width = choice_arg("bucket", BUCKETS, DEFAULT_BUCKET[range_name])
        now = services.clock.now()
        first = math.floor((now - seconds) / width)
        count = math.floor(now / width) - first + 1
        if count > MAX_BUCKETS:
            raise ApiError(400, f"bucket: too small for range {range_name}"
                                f" ({count} buckets, at most {MAX_BUCKETS})")
        return json_response(await store.stats_executions(apps, first * width, width, count))


def add_health_and_metrics_routes(app: QuartTrio, services: Services, metrics: Metrics) -> None:
    @app.get("/api/healthz")
    async def api_healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/api/readyz")
    async def api_readyz() -> Response:
        """Ready when the store and the broker answer (503 naming the one that does not)."""
        checks: dict[str, str] = {}
        for name, ping in (("store", services.store.ping),
                           ("broker", services.engine.broker.ping)):
            try:
                await ping()
                checks[name] = "ok"
            except Exception as exc:  # readiness reports, it does not crash
                checks[name] = f"failed: {exc}"
        if any(v != "ok" for v in checks.values()):
            return json_response({"status": "unavailable", "checks": checks}, 503)
        if services.closing.is_set():
            return json_response({"status": "shutting down", "checks": checks}, 503)
        return json_response({"status": "ready", "checks": checks})

    @app.get("/api/version")
    async def api_version() -> Response:
        return json_response(version_info())

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus exposition, no login. It names no tenant data, but it is operational
        detail: in production, bind the internal port to a private address (or block
        `/metrics` at the proxy), or scrape METRICS_ADDR instead."""
        return await metrics_response(services, metrics)


async def metrics_response(services: Services, metrics: Metrics) -> Response:
    """Counters plus gauges read from the store now, in the format the scraper asked for."""
    snapshot = await services.store.metrics_gauges(services.settings.worker_offline_after)
    metrics.set_gauges(snapshot, services.engine.stats())
    body, content_type = metrics.render(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)
