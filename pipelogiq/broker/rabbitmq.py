"""The RabbitMQ broker (SPEC §5): aiormq on the asyncio sidecar, behind a Trio interface.

The only module that imports aiormq or pamqp (STACK.md §4.4, §5). `_Link` is one AMQP
connection; its coroutines run on the sidecar loop and Trio reaches them only through
`Sidecar.run` — one crossing per batch. `RabbitBroker` is the actor that owns the link:
it connects, declares the topology and reconnects with capped exponential backoff; its
publisher (`rabbit_publisher.py`) gathers concurrent publishes into one crossing whose
confirms are awaited together; consumers (`rabbit_consumer.py`) follow the link across
reconnects by themselves. Topology, names and errors are in `rabbit_topology.py`.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiormq
import attrs
import trio
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from aiormq.exceptions import (
    AMQPError,
    ChannelAccessRefused,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    DeliveryError,
    PublishError,
)
from aiormq.tools import censor_url
from pamqp.commands import Basic
from yarl import URL

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.amqp_messages import encode_job
from pipelogiq.broker.base import DeadLettered
from pipelogiq.broker.rabbit_consumer import Consumer, Delivery, Incoming, UpdateStream
from pipelogiq.broker.rabbit_feed import RabbitFeed
from pipelogiq.broker.rabbit_publisher import Out, Publisher, Retry
from pipelogiq.broker.rabbit_topology import (
    BrokerUnavailable,
    PublishFailed,
    RabbitConfig,
    TopologyMismatch,
    dlq_name,
    mismatch_from_reply,
)
from pipelogiq.domain import Job

log = logging.getLogger("pipelogiq.broker")

PERSISTENT, TRANSIENT = 2, 1
CLOSE_GRACE = 5.0
PING_BOUND = 5.0
UPDATE_PREFETCH = 64
UPDATE_BACKLOG = 10_000  # x-max-length of a subscriber's queue: a stalled one loses the oldest


@attrs.frozen
class QueueInfo:
    messages: int
    consumers: int


def _reply_text(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


async def _close(obj: AbstractChannel | AbstractConnection) -> None:
    try:
        await obj.close()
    except Exception as exc:
        log.debug("closing %r: %r", obj, exc)


def _incoming(msg: DeliveredMessage) -> Incoming:
    props = msg.header.properties
    return Incoming(msg.body, msg.delivery_tag or 0, bool(getattr(msg.delivery, "redelivered", 0)),
                    props.message_id, props.delivery_mode == PERSISTENT,
                    dict(props.headers or {}), msg.channel)


class _Link:
    """One AMQP connection with a confirming publisher channel, a topology channel and a
    channel for passive declares (a failed declare closes its channel; keeping each apart
    spares in-flight publishes).
    Every coroutine here runs on the sidecar loop."""

    def __init__(self, conn: AbstractConnection, cfg: RabbitConfig) -> None:
        self.conn = conn
        self.cfg = cfg
        self._pub: AbstractChannel | None = None
        self._topo: AbstractChannel | None = None
        self._probe: AbstractChannel | None = None
        self._declared: set[str] = set()

    @classmethod
    async def open(cls, cfg: RabbitConfig) -> _Link:
        conn = await aiormq.connect(
            cfg.url, client_properties={"connection_name": cfg.connection_name})
        link = cls(conn, cfg)
        try:
            await link.declare_queue(cfg.stage_result)
            await link.declare_queue(cfg.stage_set_status)
            await link.declare_exchange()
        except BaseException:
            await _close(conn)
            raise
        return link

    async def alive(self) -> bool:
        return self.conn.is_opened

    async def close(self) -> None:
        await _close(self.conn)

    async def wait_closed(self) -> str:
        try:
            await self.conn.closing
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "closed"

    async def _channel(self, current: AbstractChannel | None, confirms: bool) -> AbstractChannel:
        if current is not None and not current.is_closed:
            return current
        return await self.conn.channel(publisher_confirms=confirms)

    async def declare_queue(self, queue: str, *, cached: bool = True) -> None:
        """Durable, with its `.dlq` when dead-lettering is on; publishers declare once per
        connection (a vanished queue comes back to them as a returned message)."""
        if cached and queue in self._declared:
            return
        ch = self._topo = await self._channel(self._topo, False)
        args = self.cfg.queue_arguments(queue)
        try:
            if args:
                await ch.queue_declare(dlq_name(queue), durable=True)
            await ch.queue_declare(queue, durable=True, arguments=args or None)
        except ChannelPreconditionFailed as exc:
            raise mismatch_from_reply(_reply_text(exc), "queue", queue) from None
        self._declared.add(queue)

    async def declare_exchange(self) -> None:
        name = self.cfg.updates_exchange
        ch = self._topo = await self._channel(self._topo, False)
        try:
            await ch.exchange_declare(name, exchange_type="fanout", durable=True)
        except ChannelPreconditionFailed as exc:
            raise mismatch_from_reply(_reply_text(exc), "exchange", name) from None

    async def publish_many(self, outs: Sequence[Out]) -> list[Exception | None]:
        """Publish everything at once and await every confirm: one outcome per message
        (None, `Retry`, or a final `PublishFailed`/`TopologyMismatch`)."""
        results: list[Exception | None] = [None] * len(outs)
        failed: dict[str, Exception] = {}
        for queue in dict.fromkeys(o.declare for o in outs if o.declare):
            try:
                await self.declare_queue(queue)
            except Exception as exc:
                failed[queue] = _outcome(exc, queue)
        try:
            ch = self._pub = await self._channel(self._pub, True)
        except Exception as exc:
            return [Retry(f"no publisher channel: {exc!r}")] * len(outs)
        tasks = []
        for i, out in enumerate(outs):
            if out.declare in failed:
                results[i] = failed[out.declare]
                continue
            props = Basic.Properties(content_type="application/json", message_id=out.message_id,
                                     delivery_mode=PERSISTENT if out.persistent else TRANSIENT)
            # mandatory: a job whose queue vanished comes back instead of being dropped
            coro = ch.basic_publish(out.body, exchange=out.exchange, routing_key=out.routing_key,
                                    properties=props, mandatory=out.declare is not None)
            tasks.append((i, self.conn.loop.create_task(coro)))
        try:
            for i, task in tasks:
                where = outs[i].routing_key or outs[i].exchange
                try:
                    confirm = await task
                except Exception as exc:
                    if isinstance(exc, PublishError):  # returned: declare it again next time
                        self._declared.discard(outs[i].declare or "")
                    results[i] = _outcome(exc, where)
                    continue
                if not isinstance(confirm, Basic.Ack):
                    results[i] = PublishFailed(f"no confirm for {where!r}: {confirm!r}")
        except BaseException:
            for _, task in tasks:
                task.cancel()
            raise
        return results

    async def open_consumer(self, queue: str | None, prefetch: int,
                            on_message: Callable[[Incoming], None],
                            on_cancel: Callable[[], None]) -> tuple[AbstractChannel, str]:
        if queue is not None:  # not cached: the queue may be why the last subscription ended
            await self.declare_queue(queue, cached=False)
        ch = await self.conn.channel(publisher_confirms=False)
        try:
            await ch.basic_qos(prefetch_count=prefetch)
            if queue is None:
                queue = self.cfg.update_queue(uuid.uuid4().hex[:12])
                await ch.queue_declare(queue, exclusive=True, auto_delete=True,
                                       arguments={"x-max-length": UPDATE_BACKLOG})
                await ch.queue_bind(queue, self.cfg.updates_exchange)

            async def deliver(msg: DeliveredMessage) -> None:
                on_message(_incoming(msg))

            ch.on_consumer_cancel_callbacks.add(lambda _frame: on_cancel())
            await ch.basic_consume(queue, deliver, no_ack=False)
        except BaseException:
            await _close(ch)
            raise
        return ch, queue

    async def ping(self) -> None:
        await self.declare_exchange()  # a real round trip that also heals a deleted exchange

    async def queue_info(self, queue: str) -> QueueInfo | None:
        # its own channel: a passive declare of a missing queue closes the channel it ran
        # on, which must not break a publisher's declare in flight on the topology channel
        ch = self._probe = await self._channel(self._probe, False)
        try:
            ok = await ch.queue_declare(queue, passive=True)
        except ChannelNotFoundEntity:
            return None
        return QueueInfo(ok.message_count or 0, ok.consumer_count or 0)

    async def delete(self, queue: str | None = None, exchange: str | None = None) -> None:
        ch = self._topo = await self._channel(self._topo, False)
        if queue is not None:
            self._declared.discard(queue)
            await ch.queue_delete(queue)
        if exchange is not None:
            await ch.exchange_delete(exchange)


def _outcome(exc: Exception, where: str) -> Exception:
    """What a failed publish means for the caller: `Retry` when another attempt can fix it
    (the connection or channel went away, the queue vanished), else a final error."""
    if isinstance(exc, TopologyMismatch | PublishFailed):
        return exc
    if isinstance(exc, PublishError):
        return Retry(f"{where!r} returned the message: {exc}")
    if isinstance(exc, DeliveryError):
        return PublishFailed(f"RabbitMQ refused the message for {where!r}: {exc}")
    if isinstance(exc, ChannelPreconditionFailed | ChannelNotFoundEntity | ChannelAccessRefused):
        return PublishFailed(f"publishing to {where!r} failed: {exc}")
    if isinstance(exc, AMQPError | ConnectionError | RuntimeError):  # closed channel/connection
        return Retry(f"{type(exc).__name__}: {exc}")
    return PublishFailed(f"publishing to {where!r} failed: {exc!r}")


class RabbitBroker:
    """Jobs, results, status and live updates over RabbitMQ (see the module docstring)."""

    kind = "rabbitmq"
    wants_payloads = True

    def __init__(self, sidecar: Sidecar, config: RabbitConfig, *, publish_wait: float = 10.0,
                 backoff: tuple[float, float] = (0.2, 30.0)) -> None:
        self.config = config
        self._sc = sidecar
        self._backoff = backoff  # reconnect delay: first, cap
        self._link: _Link | None = None
        self._generation = 0
        self._changed = trio.Event()
        self.last_error: str | None = None
        self.publisher = Publisher(self, publish_wait)

    # -- state ---------------------------------------------------------------------------

    @property
    def sidecar(self) -> Sidecar:
        return self._sc

    @property
    def backoff(self) -> tuple[float, float]:
        return self._backoff

    @property
    def link(self) -> _Link | None:
        return self._link

    @property
    def ready(self) -> bool:
        return self._link is not None

    @property
    def generation(self) -> int:
        """How many connections have been opened so far."""
        return self._generation

    def _set_link(self, link: _Link | None) -> None:
        self._link = link
        self._changed.set()
        self._changed = trio.Event()

    async def next_link(self, stale: Any = None) -> _Link:
        """The current connection, waiting for one (other than `stale`) without bound."""
        while self._link is None or self._link is stale:
            await self._changed.wait()
        return self._link

    async def wait_connected(self, after: int = 0) -> int:
        """Wait for a connection newer than generation `after`; returns its generation."""
        while self._link is None or self._generation <= after:
            await self._changed.wait()
        return self._generation

    # -- the actor -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[RabbitBroker] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Owns the connection and the publisher. `started()` reports the broker once the
        first connection is up and the topology declared; until then, and after every loss,
        it reconnects with capped exponential backoff, logging each failure, and declares the
        topology again. Raises `TopologyMismatch` once, never retrying it. On cancellation it
        closes the connection (shielded, bounded); the broker requeues unacked deliveries."""
        mismatch: TopologyMismatch | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.publisher.run)
            try:
                await self._connect_loop(task_status)
            except TopologyMismatch as exc:  # raised bare, not inside an exception group
                mismatch = exc
                nursery.cancel_scope.cancel()
        if mismatch is not None:
            raise mismatch

    async def _connect_loop(self, task_status: trio.TaskStatus[RabbitBroker]) -> None:
        where = str(censor_url(URL(self.config.url)))
        delay, started = self._backoff[0], False
        try:
            while True:
                try:
                    link = await self._sc.run(_Link.open, self.config)
                except TopologyMismatch:
                    raise
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("RabbitMQ %s: cannot connect (%s); retrying in %.1fs",
                                where, self.last_error, delay)
                    await trio.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, self._backoff[1])
                    continue
                delay, self.last_error = self._backoff[0], None
                self._generation += 1
                self._set_link(link)
                log.info("RabbitMQ %s: connected (connection %d)", where, self._generation)
                if not started:
                    task_status.started(self)
                    started = True
                reason = await self._sc.run(link.wait_closed)
                self._set_link(None)
                self.last_error = reason
                log.warning("RabbitMQ %s: connection lost (%s); reconnecting", where, reason)
        finally:
            last = self._link
            self._set_link(None)
            if last is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE):
                    await self._sc.run(last.close)

    # -- publishing ----------------------------------------------------------------------

    def job_queue(self, application_id: int, handler: str) -> str:
        return self.config.job_queue(application_id, handler)

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Put jobs on their handler queues: persistent, confirmed. Returns once the broker
        has them all; raises `PublishFailed`, `TopologyMismatch` or `BrokerUnavailable`."""
        outs = []
        for job in jobs:
            queue = self.job_queue(job.application_id, job.handler)
            outs.append(Out(queue, encode_job(job), declare=queue,
                            message_id=f"{job.stage_id}.{job.attempt}"))
        await self.publisher.publish(outs)

    async def put_back(self, jobs: Sequence[Job]) -> None:
        """Jobs whose messages were acked but never reached a puller: published again."""
        await self.publish(jobs)

    async def unqueued(self, jobs: Sequence[Job]) -> list[Job]:
        """The jobs whose handler queue holds no ready message (or does not exist). A message
        can also be out with a consumer, so callers ask only about stages `Pending` for a
        while (a consumer leases what it takes within moments); a queue that holds messages
        is assumed to hold theirs (the pending watchdog is the last resort)."""
        by_queue: dict[str, list[Job]] = {}
        for job in jobs:
            by_queue.setdefault(self.job_queue(job.application_id, job.handler), []).append(job)
        lost = []
        for queue, group in by_queue.items():
            info = await self.queue_info(queue)
            if info is None or info.messages == 0:
                lost += group
        return lost

    async def publish_to(self, queue: str, bodies: Sequence[bytes]) -> None:
        """Raw JSON bodies onto a durable queue (re-sending dead letters, tests)."""
        await self.publisher.publish([Out(queue, body, declare=queue) for body in bodies])

    async def publish_update(self, payload: bytes) -> None:
        """One change to every subscriber of the updates exchange (transient: the
        subscribers' queues die with their connections anyway)."""
        update = Out("", payload, exchange=self.config.updates_exchange, persistent=False)
        await self.publisher.publish([update])

    # -- consuming -----------------------------------------------------------------------

    @asynccontextmanager
    async def consume(self, queue: str, prefetch: int | None = None
                      ) -> AsyncIterator[trio.MemoryReceiveChannel[Delivery]]:
        """Deliveries of a durable queue (declared if needed) while the block runs, across
        reconnects. Entering waits for a connection (bound it with a cancel scope) and raises
        `TopologyMismatch` bare. Leaving closes the consumer's channel: what was not acked
        goes back to the queue."""
        async with self._consumer(queue, prefetch or self.config.prefetch) as (deliveries, _):
            yield deliveries

    @asynccontextmanager
    async def feed(self, application_id: int, handler: str,
                   dead_lettered: DeadLettered | None = None) -> AsyncIterator[RabbitFeed]:
        """A handler queue for its handler-queue actor (`rabbit_feed.py`): consumed only
        while pullers want jobs."""
        feed = RabbitFeed(self, self.job_queue(application_id, handler),
                          (application_id, handler), dead_letter=self.config.dlq_enabled,
                          dead_lettered=dead_lettered)
        async with trio.open_nursery() as nursery:
            await nursery.start(feed.run)
            try:
                yield feed
            finally:
                nursery.cancel_scope.cancel()

    @asynccontextmanager
    async def updates(self) -> AsyncIterator[UpdateStream]:
        """Every `publish_update` payload from now on, through an exclusive queue."""
        async with self._consumer(None, UPDATE_PREFETCH) as (deliveries, consumer):
            yield UpdateStream(deliveries, consumer)

    @asynccontextmanager
    async def _consumer(self, queue: str | None, prefetch: int
                        ) -> AsyncIterator[tuple[trio.MemoryReceiveChannel[Delivery], Consumer]]:
        # buffer == prefetch: see rabbit_consumer's docstring for why send_nowait never overflows
        send, deliveries = trio.open_memory_channel[Delivery](prefetch)
        drain = deliveries.clone()
        consumer = Consumer(self, queue, prefetch, send, drain)
        mismatch: TopologyMismatch | None = None
        async with send, deliveries, drain, trio.open_nursery() as nursery:
            try:
                await nursery.start(consumer.run)
            except TopologyMismatch as exc:
                mismatch = exc
            else:
                try:
                    yield deliveries, consumer
                finally:
                    nursery.cancel_scope.cancel()
        if mismatch is not None:
            raise mismatch

    # -- health and administration -------------------------------------------------------

    def _connected(self) -> _Link:
        link = self._link
        if link is None:
            raise BrokerUnavailable(f"RabbitMQ is not connected ({self.last_error or 'starting'})")
        return link

    async def ping(self) -> None:
        """For /readyz: a round trip to the broker, bounded; raises `BrokerUnavailable`."""
        link = self._connected()
        with trio.move_on_after(PING_BOUND):
            try:
                await self._sc.run(link.ping)
                return
            except TopologyMismatch:
                raise
            except Exception as exc:
                raise BrokerUnavailable(f"RabbitMQ ping failed: {exc!r}") from exc
        raise BrokerUnavailable(f"RabbitMQ did not answer within {PING_BOUND}s")

    async def queue_info(self, queue: str) -> QueueInfo | None:
        """Depth and consumers of a queue, or None when it does not exist."""
        return await self._sc.run(self._connected().queue_info, queue)

    async def delete_queue(self, queue: str) -> None:
        await self._sc.run(self._connected().delete, queue, None)

    async def delete_exchange(self, exchange: str) -> None:
        await self._sc.run(self._connected().delete, None, exchange)

