"""Operator work on dead-letter queues (SPEC §5, RabbitMQ mode): which DLQs exist, a peek
that leaves the messages where they are, and moving messages back to their source queue or
dropping them.

A DLQ is only ever read here by a short-lived consumer: messages it does not settle go back
to the queue when its channel closes, so a failed or cancelled request loses nothing. Re-sending
publishes (confirmed) before it acks, so a message is at worst duplicated, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs
import trio

from pipelogiq.broker.rabbit_consumer import Delivery
from pipelogiq.broker.rabbit_topology import DLQ_SUFFIX, RabbitConfig, dlq_name, is_dlq

PEEK_WAIT = 2.0  # seconds a peek or a move waits for the next delivery before it stops
MAX_BODY = 4096  # characters of a body shown by a peek
MAX_MOVE = 1000  # messages one re-send or discard handles at most
MOVE_BATCH = 100  # deliveries published (and then acked) together


class QueueDepth(Protocol):
    @property
    def messages(self) -> int: ...


class DeadLetterBroker(Protocol):
    """What this module needs of `RabbitBroker`."""

    config: RabbitConfig

    async def queue_info(self, queue: str) -> QueueDepth | None: ...

    def consume(self, queue: str, prefetch: int | None = None
                ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[Delivery]]: ...

    async def publish_to(self, queue: str, bodies: Sequence[bytes]) -> None: ...


@attrs.frozen
class DeadLetterQueue:
    queue: str
    source: str
    messages: int


def source_of(dlq: str) -> str:
    return dlq[: -len(DLQ_SUFFIX)] if is_dlq(dlq) else dlq


def candidates(config: RabbitConfig, handlers: Sequence[tuple[int, str]]) -> list[str]:
    """The DLQ names this deployment may have: results, status, then every handler queue."""
    sources = [config.stage_result, config.stage_set_status,
               *(config.job_queue(app_id, handler) for app_id, handler in handlers)]
    return [dlq_name(q) for q in dict.fromkeys(sources)]


async def existing(broker: DeadLetterBroker, names: Sequence[str]) -> list[DeadLetterQueue]:
    """The DLQs among `names` that exist, with their depth (one passive declare each)."""
    out = []
    for name in names:
        info = await broker.queue_info(name)
        if info is not None:
            out.append(DeadLetterQueue(name, source_of(name), info.messages))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def describe(delivery: Delivery) -> dict[str, Any]:
    """A dead letter as the dashboard shows it: its body (cut at MAX_BODY characters), id,
    why it died (the first `x-death` entry's reason and queue) and its headers."""
    text = delivery.body.decode("utf-8", "replace")
    headers = _jsonable(delivery.headers)
    deaths = headers.get("x-death") or []
    first = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    return {"messageId": delivery.message_id, "body": text[:MAX_BODY],
            "truncated": len(text) > MAX_BODY, "size": len(delivery.body),
            "reason": first.get("reason"), "deadFrom": first.get("queue"),
            "deathCount": first.get("count"), "headers": headers}


async def _take(deliveries: trio.MemoryReceiveChannel[Delivery], n: int,
                wait: float) -> list[Delivery]:
    """Up to `n` deliveries, stopping once none has come for `wait` seconds."""
    taken: list[Delivery] = []
    while len(taken) < n:
        with trio.move_on_after(wait):
            taken.append(await deliveries.receive())
            continue
        break
    return taken


async def peek(broker: DeadLetterBroker, queue: str, limit: int,
               wait: float = PEEK_WAIT) -> list[dict[str, Any]]:
    """Up to `limit` messages of `queue`, read and put back (nack with requeue): read-only."""
    info = await broker.queue_info(queue)
    if info is None or info.messages == 0:
        return []
    async with broker.consume(queue, min(limit, info.messages)) as deliveries:
        taken = await _take(deliveries, min(limit, info.messages), wait)
        for delivery in taken:
            delivery.nack(requeue=True)
    return [describe(d) for d in taken]


async def drain(broker: DeadLetterBroker, queue: str, count: int, target: str | None,
                wait: float = PEEK_WAIT) -> int:
    """Take up to `count` messages off `queue`; publish them to `target` first when given
    (re-send), then ack them. Returns how many were taken."""
    info = await broker.queue_info(queue)
    if info is None:
        return 0
    want = min(count, info.messages)
    done = 0
    if want == 0:
        return 0
    async with broker.consume(queue, min(want, MOVE_BATCH)) as deliveries:
        while done < want:
            taken = await _take(deliveries, min(MOVE_BATCH, want - done), wait)
            if not taken:
                break
            if target is not None:
                await broker.publish_to(target, [d.body for d in taken])
            for delivery in taken:
                delivery.ack()
            done += len(taken)
    return done
