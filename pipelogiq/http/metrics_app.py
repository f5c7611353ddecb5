"""The metrics server on METRICS_ADDR: `/metrics` only, for a scraper on a private port."""

from __future__ import annotations

from quart import Response
from quart_trio import QuartTrio

from pipelogiq.http.common import make_app, text_error
from pipelogiq.http.internal_admin_stats import metrics_response
from pipelogiq.services import Services


def create_metrics_app(services: Services) -> QuartTrio:
    app = make_app("pipelogiq-metrics", text_error)
    metrics = services.engine.metrics

    @app.get("/metrics")
    async def prometheus() -> Response:
        return await metrics_response(services, metrics)

    return app
