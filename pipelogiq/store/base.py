"""What every store answers with, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import attrs

from pipelogiq.domain import Job


class StoreError(Exception):
    """A request the store refuses; `status` is the HTTP code that describes it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class AckOutcome:
    kind: Literal["applied", "duplicate", "not_found", "conflict"]
    reason: str = ""
    pipeline_id: int | None = None
    status: str | None = None
    republish: Job | None = None
    handler: str | None = None
    attempt_seconds: float | None = None  # running time of the attempt that settled


@attrs.frozen
class Reclaimed:
    """Stages a watchdog took back: jobs to publish again and pipelines to re-evaluate."""

    jobs: tuple[Job, ...] = ()
    pipeline_ids: frozenset[int] = frozenset()


@attrs.frozen
class Principal:
    """Who a request acts for on the external API."""

    application_id: int
    worker_id: str | None = None


@attrs.frozen
class PipelineQuery:
    application_ids: Sequence[int]
    page_number: int = 1
    page_size: int = 20
    search: str | None = None
    statuses: Sequence[str] = ()
    keywords: Sequence[str] = ()
    context: Sequence[tuple[str, str]] = ()
    start_from: float | None = None
    start_to: float | None = None
    end_from: float | None = None
    end_to: float | None = None


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
