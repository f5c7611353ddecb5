"""`/ws`: live pipeline frames for the dashboard."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.services import Services


def add_ws_route(app: QuartTrio, services: Services) -> None:
    """Register `/ws` on the internal app."""
