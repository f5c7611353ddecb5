"""Internal API routes: admin. Each feature area lives in its own `internal_admin_*` module;
this registers them all on the internal app."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.http.internal_admin_accounts import add_application_routes
from pipelogiq.http.internal_admin_pipelines import add_admin_pipeline_routes
from pipelogiq.http.internal_admin_read import add_read_routes
from pipelogiq.http.internal_admin_stats import add_health_and_metrics_routes, add_stats_routes
from pipelogiq.http.internal_admin_users import add_user_routes
from pipelogiq.http.internal_deadletters import add_deadletter_routes
from pipelogiq.observability.metrics import metrics_of
from pipelogiq.services import Services


def add_admin_routes(app: QuartTrio, services: Services) -> None:
    """Register the admin routes on the internal app: pipelines' stages, context, logs,
    deletion and bulk actions; applications and members; users; keywords; application logs;
    workers' detail, events and heartbeats; stats; dead letters; `/api/healthz|readyz|version`; `/metrics`."""
    add_admin_pipeline_routes(app, services)
    add_application_routes(app, services)
    add_user_routes(app, services)
    add_read_routes(app, services)
    add_stats_routes(app, services)
    add_deadletter_routes(app, services)
    add_health_and_metrics_routes(app, services, metrics_of(services))
