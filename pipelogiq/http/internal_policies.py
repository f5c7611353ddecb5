"""Internal API routes: policies."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.services import Services


def add_policies_routes(app: QuartTrio, services: Services) -> None:
    """Register the policies routes on the internal app."""
