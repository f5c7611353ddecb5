"""The broker interface: handler job queues and their names (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import attrs

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


@attrs.frozen(eq=False)
class Taken:
    """A job taken from a handler queue for a waiting puller; `handle` is the broker's own
    record of the message (a RabbitMQ delivery to settle), None in the in-process broker."""

    job: Job
    handle: Any = None


class JobFeed(Protocol):
    """One handler queue as its handler-queue actor sees it (SPEC §5, HTTP pulls). The actor
    says how many jobs its waiting pullers want; a RabbitMQ feed consumes the queue only while
    that is above zero, so a replica never holds jobs nobody waits for."""

    def want(self, jobs: int) -> None:
        """The jobs waiting pullers want now (0: nobody waits)."""

    def take_nowait(self, max_jobs: int) -> list[Taken]:
        """Up to `max_jobs` jobs that are here now."""
        ...

    async def wait_ready(self) -> None:
        """Return once a job is here (or `trusted_from` changed)."""

    def trusted_from(self) -> float:
        """The Trio time from which an empty feed means an empty queue: a consumer that has
        just subscribed needs a moment to receive what the queue holds, and until it has
        subscribed nothing is known."""
        ...

    def done(self, taken: Sequence[Taken]) -> None:
        """These messages are settled for good: leased in the database, or stale (dropped)."""

    def put_back(self, taken: Sequence[Taken]) -> list[Job]:
        """Nobody received these: back on the queue, in front where the broker can. Returns
        the jobs it could not put back (their message is gone): publish those again."""
        ...


# (queue, message id, reason): a message was dead-lettered (the alerter hears of it)
DeadLettered = Callable[[str, "str | None", str], None]


class Broker(Protocol):
    kind: str
    wants_payloads: bool  # jobs published need their StageNext payload (AMQP-direct workers)

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Put jobs on their handler queues (durably, in broker mode)."""

    def feed(self, application_id: int, handler: str, dead_lettered: DeadLettered
             ) -> AbstractAsyncContextManager[JobFeed]:
        """The handler queue of (application, handler), for its handler-queue actor; a
        message that is not a job is dead-lettered (or logged and dropped), never requeued."""
        ...

    async def put_back(self, jobs: Sequence[Job]) -> None:
        """Jobs delivered (their messages settled) that the puller never received: back on
        their queues."""

    async def unqueued(self, jobs: Sequence[Job]) -> list[Job]:
        """Of these jobs of `Pending` stages, those whose message is surely not on its queue
        (lost between the commit and the publish): recovery and the sweep publish them."""
        ...

    async def ping(self) -> None: ...
