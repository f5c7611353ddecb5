"""The metrics server on METRICS_ADDR: `/metrics` for a scraper on a private port, and the
health routes (`/healthz`, `/readyz`, `/version`), the only HTTP an engine replica serves."""

from __future__ import annotations

from quart import Response
from quart_trio import QuartTrio

from pipelogiq.http.common import add_health_routes, make_app, text_error
from pipelogiq.http.internal_admin_stats import metrics_response
from pipelogiq.services import Services


def create_metrics_app(services: Services) -> QuartTrio:
    app = make_app("pipelogiq-metrics", text_error)
    metrics = services.engine.metrics
    add_health_routes(app, services)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return await metrics_response(services, metrics)

    return app
