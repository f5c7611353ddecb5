"""The dashboard: the built React app served at `/` with an SPA fallback."""

from __future__ import annotations

from quart_trio import QuartTrio

from pipelogiq.services import Services


def add_spa_routes(app: QuartTrio, services: Services) -> None:
    """Register the dashboard's routes (after every API route)."""
