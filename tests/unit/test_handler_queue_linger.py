"""The handler queue's linger: a waiter with room for more gets what arrives while its queue
keeps growing, a scheduling round at a time, and no more rounds than that."""

from __future__ import annotations

from typing import Any

import trio

from pipelogiq.actors.handler_queue import LINGER_ROUNDS, HandlerQueueActor
from pipelogiq.actors.messages import Pull
from pipelogiq.broker.base import Taken
from pipelogiq.domain import Delivered, Job


class _Engine:
    def queue_name(self, application_id: int, handler: str) -> str:
        return f"q.{application_id}.{handler}"


class _Feed:
    """Hands out one batch per `take_nowait` from `arrivals` (what came since the last look)."""

    def __init__(self, *arrivals: int) -> None:
        self.arrivals = list(arrivals)
        self.looks = 0

    def take_nowait(self, max_jobs: int) -> list[Taken]:
        self.looks += 1
        n = min(max_jobs, self.arrivals.pop(0)) if self.arrivals else 0
        return [Taken(Job(1, "h", self.looks * 100 + i, 1, 1)) for i in range(n)]


def _queue(feed: _Feed) -> HandlerQueueActor:
    _, inbox = trio.open_memory_channel[Pull](0)
    q = HandlerQueueActor((1, "h"), inbox, _Engine())  # type: ignore[arg-type]
    q._feed = feed  # type: ignore[assignment]
    return q


def _waiter(max_jobs: int) -> Pull:
    send, _ = trio.open_memory_channel[list[Delivered]](1)
    return Pull(max_jobs, 0.0, None, send)


async def _linger(arrivals: list[int], max_jobs: int) -> tuple[list[Any], int]:
    feed = _Feed(*arrivals)
    q = _queue(feed)
    taken = feed.take_nowait(max_jobs)
    await q._linger(_waiter(max_jobs), taken)
    return taken, feed.looks


async def test_what_arrives_while_the_queue_grows_goes_in_the_same_answer() -> None:
    taken, looks = await _linger([1, 2, 1, 0, 5], max_jobs=10)
    assert len(taken) == 4 and looks == 4  # stopped at the round that brought nothing


async def test_a_lone_job_waits_one_round_only() -> None:
    taken, looks = await _linger([1], max_jobs=10)
    assert len(taken) == 1 and looks == 2


async def test_a_full_answer_goes_at_once_and_the_rounds_are_bounded() -> None:
    taken, looks = await _linger([3, 5], max_jobs=3)
    assert len(taken) == 3 and looks == 1  # already what the waiter asked for
    taken, looks = await _linger([1] * 10, max_jobs=100)
    assert len(taken) == 1 + LINGER_ROUNDS and looks == 1 + LINGER_ROUNDS
