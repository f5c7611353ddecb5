"""The broker interface: handler job queues and their names (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipelogiq.domain import Job


def queue_name(prefix: str, app_id: str, application_id: int, handler: str) -> str:
    """`{prefix}{APP_ID}.stage.{applicationId}.{handlerName}`: one queue per tenant and handler."""
    return f"{prefix}{app_id}.stage.{application_id}.{handler}"


def parse_queue_name(prefix: str, app_id: str, name: str) -> tuple[int, str] | None:
    """(applicationId, handler) of a full queue name, or None when it is not one of ours."""
    head = f"{prefix}{app_id}.stage."
    if not name.startswith(head):
        return None
    app, sep, handler = name[len(head):].partition(".")
    if not sep or not app.isdigit() or not handler:
        return None
    return int(app), handler


class Broker(Protocol):
    kind: str

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Put jobs on their handler queues (durably, in broker mode)."""

    def take_nowait(self, application_id: int, handler: str, max_jobs: int) -> list[Job]:
        """Up to `max_jobs` jobs that are on the queue now."""
        ...

    async def wait_ready(self, application_id: int, handler: str) -> None:
        """Return once the queue holds a job."""

    def give_back(self, jobs: Sequence[Job]) -> None:
        """Return taken jobs to the front of their queues (nobody received them)."""

    def depth(self, application_id: int, handler: str) -> int: ...

    async def ping(self) -> None: ...
