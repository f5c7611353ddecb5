"""Dead letters on the internal API (SPEC §5, §7; Admin only): the `<queue>.dlq` queues of
this deployment with their depth, a read-only peek, re-send to the source queue, discard.

DLQs are deployment-wide (one per broker queue, not per tenant), hence Admin only and no
application scoping. Embedded mode has no broker queues: the list says `enabled: false` and
the actions answer 409. The work itself is in `broker/dead_letters.py`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from quart import Response, request
from quart_trio import QuartTrio

from pipelogiq.broker import dead_letters as dl
from pipelogiq.broker.rabbit_topology import BrokerUnavailable
from pipelogiq.http.common import json_response, read_body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.internal_admin_args import int_arg, require_admin
from pipelogiq.http.user_auth import User, current_user
from pipelogiq.services import Services

log = logging.getLogger("pipelogiq.deadletters")

MAX_HANDLER_QUEUES = 1000  # handler queues looked at by one listing
MAX_PEEK = 100


def add_deadletter_routes(app: QuartTrio, services: Services) -> None:
    store = services.store

    def rabbit() -> dl.DeadLetterBroker | None:
        broker = services.engine.broker
        return cast(dl.DeadLetterBroker, broker) if broker.kind == "rabbitmq" else None

    async def admin() -> User:
        user = await current_user(services)
        require_admin(user)
        return user

    async def names(broker: dl.DeadLetterBroker) -> list[str]:
        return dl.candidates(broker.config, await store.handler_pairs(MAX_HANDLER_QUEUES))

    async def known_queue(broker: dl.DeadLetterBroker, queue: str | None) -> str:
        if not queue:
            raise ApiError(400, "queue: required")
        if queue not in await names(broker):
            raise ApiError(400, f"queue: {queue!r} is not a dead-letter queue of this"
                                " deployment")
        return queue

    def needs_rabbit() -> dl.DeadLetterBroker:
        broker = rabbit()
        if broker is None:
            raise ApiError(409, "dead letters exist only in RabbitMQ mode (RABBITMQ_URL);"
                                " the embedded broker has none")
        return broker

    @asynccontextmanager
    async def reaching_broker() -> AsyncIterator[None]:
        try:
            yield
        except BrokerUnavailable as exc:
            raise ApiError(503, str(exc)) from None

    @app.get("/api/deadletters")
    async def deadletters() -> Response:
        """`{enabled, queues: [{queue, source, messages}]}`: the DLQs that exist."""
        await admin()
        broker = rabbit()
        if broker is None:
            return json_response({"enabled": False, "queues": []})
        async with reaching_broker():
            found = await dl.existing(broker, await names(broker))
        return json_response({
            "enabled": broker.config.dlq_enabled,
            "queues": [{"queue": q.queue, "source": q.source, "messages": q.messages}
                       for q in found]})

    @app.get("/api/deadletters/messages")
    async def deadletter_messages() -> Response:
        """`?queue=<dlq>&limit=20` → `{queue, messages: [...]}`, left on the queue."""
        await admin()
        broker = needs_rabbit()
        queue = await known_queue(broker, request.args.get("queue"))
        limit = int_arg("limit", 20, 1, MAX_PEEK)
        async with reaching_broker():
            messages = await dl.peek(broker, queue, limit)
        return json_response({"queue": queue, "messages": messages})

    async def action(name: str, resend: bool) -> Response:
        user = await admin()
        broker = needs_rabbit()
        body = await read_body()
        queue = await known_queue(broker, body.string("queue", required=True, max_len=1000))
        count = body.integer("count", default=dl.MAX_MOVE, lo=1, hi=dl.MAX_MOVE) or dl.MAX_MOVE
        target = dl.source_of(queue) if resend else None
        async with reaching_broker():
            done = await dl.drain(broker, queue, count, target)
        log.info("%s %d dead letter(s) of %s", name, done, queue, extra={
            "action": name, "queue": queue, "target": target, "count": done,
            "user": user.email, "user_id": user.id})
        key = "resent" if resend else "discarded"
        return json_response({"queue": queue, "target": target, key: done})

    @app.post("/api/deadletters/resend")
    async def deadletters_resend() -> Response:
        """`{queue, count?}`: back onto the source queue (published before acked)."""
        return await action("resend", True)

    @app.post("/api/deadletters/discard")
    async def deadletters_discard() -> Response:
        """`{queue, count?}`: acked, gone."""
        return await action("discard", False)
