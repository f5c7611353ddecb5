"""The Trio side of RabbitMQ consumers: deliveries, the update stream and the consumer loop.

A consumer owns one AMQP channel (STACK.md §5.2) with `basic_qos(prefetch)`; the aiormq
callback forwards each delivery into a Trio memory channel through `Sidecar.to_trio`. The
buffer equals the prefetch: the broker never has more than `prefetch` unacked deliveries out on
the channel, and deliveries of a dead channel are discarded before the next one subscribes, so
`send_nowait` cannot overflow. Acks are fire-and-forget (`Sidecar.spawn`): a lost ack means a
redelivery, which the state machine's conditional updates drop. Closing the channel when the
consumer stops puts its unacked deliveries back on the queue.

This module never touches aiormq: the link (`rabbitmq._Link`) does, on the sidecar loop.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, Protocol

import attrs
import trio

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.rabbit_topology import TopologyMismatch

log = logging.getLogger("pipelogiq.broker")

CLOSE_GRACE = 5.0  # bound on closing a channel when a consumer stops


@attrs.frozen
class Incoming:
    """A delivery as the sidecar loop hands it over: plain data plus its (opaque) channel."""

    body: bytes
    tag: int
    redelivered: bool
    message_id: str | None
    persistent: bool
    headers: dict[str, Any]
    channel: Any


class Link(Protocol):
    """What a consumer needs of one AMQP connection; every method runs on the sidecar loop."""

    async def open_consumer(self, queue: str | None, prefetch: int, on_message: Any,
                            on_cancel: Any) -> tuple[Any, str]: ...

    async def alive(self) -> bool: ...


class Owner(Protocol):
    """What a consumer needs of the broker."""

    @property
    def sidecar(self) -> Sidecar: ...

    @property
    def backoff(self) -> tuple[float, float]: ...

    async def next_link(self, stale: Any = None) -> Any: ...


async def _wait_closed(channel: Any) -> str:
    try:
        await channel.closing
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "closed"


async def _close(channel: Any) -> None:
    try:
        await channel.close()
    except Exception as exc:
        log.debug("closing a consumer channel: %r", exc)


async def _settle(channel: Any, op: str, tag: int, flag: bool) -> None:
    try:
        if op == "ack":
            await channel.basic_ack(tag, multiple=flag, wait=False)
        else:
            await channel.basic_nack(tag, requeue=flag, wait=False)
    except Exception as exc:  # the channel died meanwhile: the broker redelivers the message
        log.debug("%s of delivery %d not sent: %r", op, tag, exc)


class _Live:
    """Whether the channel of one subscription still stands (settling after that is moot)."""

    def __init__(self) -> None:
        self.open = True


@attrs.frozen(eq=False)
class Delivery:
    """One message taken from a queue. Settle it exactly once with `ack`, `nack` or `reject`;
    each is fire-and-forget. Settling after the consumer stopped or the connection dropped
    does nothing: the broker has put the message back already."""

    body: bytes
    queue: str
    message_id: str | None
    redelivered: bool
    persistent: bool
    headers: dict[str, Any]
    _tag: int = attrs.field(repr=False)
    _channel: Any = attrs.field(repr=False)
    _sidecar: Sidecar = attrs.field(repr=False)
    _live: _Live = attrs.field(repr=False)

    @property
    def live(self) -> bool:
        """Settling still means something: the channel it came on stands."""
        return self._live.open

    def _settle(self, op: str, flag: bool) -> None:
        if self._live.open:
            self._sidecar.spawn(_settle, self._channel, op, self._tag, flag)

    def ack(self, *, multiple: bool = False) -> None:
        self._settle("ack", multiple)

    def nack(self, *, requeue: bool = True) -> None:
        self._settle("nack", requeue)

    def reject(self) -> None:
        """Not requeued: it goes to `<queue>.dlq` when dead-lettering is on, else it is dropped."""
        self._settle("nack", False)


class UpdateStream:
    """The payloads given to `publish_update`, in order, each acked as it is read.

    A subscriber's queue lives as long as its connection: changes published while the
    connection is down are not seen, and a reader stalled beyond the queue's length limit
    loses the oldest changes. `subscriptions` counts the queues this stream has had; when it
    grows, changes may have been missed and subscribers should reload."""

    def __init__(self, deliveries: trio.MemoryReceiveChannel[Delivery], consumer: Consumer
                 ) -> None:
        self._deliveries = deliveries
        self._consumer = consumer

    @property
    def subscriptions(self) -> int:
        return self._consumer.subscriptions

    async def wait_subscribed(self, after: int) -> int:
        """Wait until the stream has had more than `after` subscriptions."""
        return await self._consumer.wait_subscribed(after)

    async def receive(self) -> bytes:
        delivery = await self._deliveries.receive()
        delivery.ack()
        return delivery.body

    def __aiter__(self) -> UpdateStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class Consumer:
    """Keeps one queue consumed across reconnects (`queue=None`: a fresh exclusive queue bound
    to the updates exchange for each connection)."""

    def __init__(self, owner: Owner, queue: str | None, prefetch: int,
                 send: trio.MemorySendChannel[Delivery],
                 drain: trio.MemoryReceiveChannel[Delivery]) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1 (0 would mean unbounded)")
        self._owner = owner
        self._queue = queue
        self._prefetch = prefetch
        self._send = send
        self._drain = drain  # a clone of the receiving end, to discard a dead channel's deliveries
        self._gen = 0
        self._wait: trio.CancelScope | None = None
        self._broker_cancelled = 0  # the subscription the broker cancelled, if any
        self.subscriptions = 0
        self._subscribed = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Owns the consumer's channel. `started()` reports the queue name once the first
        subscription is in place (it waits for a connection without bound: callers wrap it in
        their own deadline). A channel lost with its connection is opened again on the next
        one; a consumer cancelled by the broker (queue deleted) subscribes again after a pause.
        Raises `TopologyMismatch`. On exit the channel is closed (shielded, bounded), which
        returns unacked deliveries to the queue."""
        sc = self._owner.sidecar
        started = False
        stale: Any = None
        delay = self._owner.backoff[0]
        channel: Any = None
        live = _Live()
        try:
            while True:
                link = await self._owner.next_link(stale)
                self._discard_buffered()
                self._gen += 1
                gen, live = self._gen, _Live()
                try:
                    channel, queue = await sc.run(
                        link.open_consumer, self._queue, self._prefetch,
                        # bound now: a dead channel's late callbacks must carry its own gen
                        partial(sc.to_trio, self._deliver, gen, live),
                        partial(sc.to_trio, self._cancelled, gen))
                except TopologyMismatch:
                    raise
                except Exception as exc:
                    log.warning("consuming %s failed: %r", self._queue or "updates", exc)
                else:
                    self.subscriptions += 1
                    self._subscribed.set()
                    self._subscribed = trio.Event()
                    if not started:
                        task_status.started(queue)
                        started = True
                    delay = self._owner.backoff[0]
                    with trio.CancelScope() as self._wait:
                        if self._broker_cancelled == gen:
                            self._wait.cancel()
                        reason = await sc.run(_wait_closed, channel)
                        log.warning("consumer channel of %s closed: %s", queue, reason)
                    live.open = False
                    if self._wait.cancelled_caught:
                        log.warning("consumer of %s cancelled by the broker", queue)
                        await self._close(channel)
                    channel = None
                alive = await sc.run(link.alive)
                stale = None if alive else link
                if alive:  # the connection stands: the trouble is the queue; do not spin
                    await trio.sleep(delay)
                    delay = min(delay * 2, self._owner.backoff[1])
        finally:
            live.open = False
            if channel is not None:
                await self._close(channel)

    async def wait_subscribed(self, after: int) -> int:
        while self.subscriptions <= after:
            await self._subscribed.wait()
        return self.subscriptions

    async def _close(self, channel: Any) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE):
            await self._owner.sidecar.run(_close, channel)

    def _discard_buffered(self) -> None:
        """Deliveries still buffered belong to a channel that is gone (the broker has
        requeued them); drop them so the next channel's prefetch fits the buffer."""
        while True:
            try:
                self._drain.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return

    def _deliver(self, gen: int, live: _Live, inc: Incoming) -> None:
        if gen != self._gen or not live.open:
            return  # from a channel that is gone: the broker has requeued it
        delivery = Delivery(inc.body, self._queue or "updates", inc.message_id, inc.redelivered,
                            inc.persistent, inc.headers, inc.tag, inc.channel,
                            self._owner.sidecar, live)
        try:
            self._send.send_nowait(delivery)
        except trio.WouldBlock:  # cannot happen while buffer >= prefetch; never lose it silently
            log.error("consumer buffer of %s overflowed; requeueing", self._queue)
            delivery.nack(requeue=True)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the consumer is leaving; closing its channel requeues the message

    def _cancelled(self, gen: int) -> None:
        self._broker_cancelled = gen
        if gen == self._gen and self._wait is not None:
            self._wait.cancel()
