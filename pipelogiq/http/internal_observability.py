"""Internal API routes: observability."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.services import Services


def add_observability_routes(app: QuartTrio, services: Services) -> None:
    """Register the observability routes on the internal app."""
