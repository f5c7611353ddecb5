"""Internal API routes: admin."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.services import Services


def add_admin_routes(app: QuartTrio, services: Services) -> None:
    """Register the admin routes on the internal app."""
