"""Fan-out of pipeline changes to live subscribers (the /ws sockets).

Publishing never waits: each subscriber has a small bounded buffer, and a subscriber whose
buffer is full is dropped (its channel closed) instead of slowing the engine.

Two kinds of subscriber: `subscribe()` gives a plain channel of every change (tests wait on
it); `subscription()` gives a coalescing `Subscription` (the sockets use it), where a change of
a pipeline that is already waiting to be read merges into it, so the bound counts pipelines,
not changes, and a burst on one pipeline never drops anyone.
"""

from __future__ import annotations

from types import TracebackType

import trio

SUBSCRIBER_BUFFER = 64  # enough for a burst of changes; a reader this far behind is too slow
# Distinct pipelines a coalescing subscriber may have waiting: above a batch pull (100 jobs),
# so one delivery never drops a dashboard that keeps up; a larger burst (a mass reclaim) may,
# and the dashboard reconnects and reloads, which is cheaper than that many frames anyway.
SUBSCRIPTION_LIMIT = 256


class Subscription:
    """One subscriber's pipeline ids not read yet: a set in arrival order, at most `limit`.

    Ends when the hub drops it (`dropped` is then True) or closes, or when the subscriber
    closes it; `receive()` then raises `trio.EndOfChannel` and what was pending is discarded
    (a dropped subscriber reloads everything when it comes back)."""

    def __init__(self, hub: Hub, limit: int) -> None:
        self._hub = hub
        self._limit = limit
        self._pending: dict[int, None] = {}
        self._changed = trio.Event()
        self.ended = trio.Event()
        self.dropped = False

    def offer(self, pipeline_id: int) -> bool:
        """Queue a change; False when it does not fit (the hub then drops this subscriber)."""
        if pipeline_id in self._pending:
            return True
        if len(self._pending) >= self._limit:
            return False
        self._pending[pipeline_id] = None
        self._changed.set()
        return True

    def end(self, *, dropped: bool = False) -> None:
        self.dropped = self.dropped or dropped
        self._pending.clear()
        self.ended.set()
        self._changed.set()

    def close(self) -> None:
        """The subscriber leaves: unsubscribe."""
        self._hub.unsubscribe(self)
        self.end()

    async def receive(self) -> int:
        """The oldest pending pipeline id, waiting for one."""
        await trio.lowlevel.checkpoint()
        while True:
            if self.ended.is_set():
                raise trio.EndOfChannel
            if self._pending:
                pipeline_id = next(iter(self._pending))
                del self._pending[pipeline_id]
                return pipeline_id
            self._changed = trio.Event()
            await self._changed.wait()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Hub:
    def __init__(self, buffer: int = SUBSCRIBER_BUFFER, limit: int = SUBSCRIPTION_LIMIT) -> None:
        self._buffer = buffer
        self._limit = limit
        self._subscribers: set[trio.MemorySendChannel[int]] = set()
        self._subscriptions: set[Subscription] = set()
        self.dropped = 0

    def subscribe(self) -> trio.MemoryReceiveChannel[int]:
        send, recv = trio.open_memory_channel[int](self._buffer)
        self._subscribers.add(send)
        return recv

    def subscription(self, limit: int | None = None) -> Subscription:
        """A coalescing subscription of at most `limit` (default: the hub's) pending
        pipelines; use it as a context manager so it unsubscribes."""
        sub = Subscription(self, self._limit if limit is None else limit)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def pipeline_changed(self, pipeline_id: int) -> None:
        for send in list(self._subscribers):
            try:
                send.send_nowait(pipeline_id)
            except trio.WouldBlock:
                self.dropped += 1
                self._subscribers.discard(send)
                send.close()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(send)
        for sub in list(self._subscriptions):
            if not sub.offer(pipeline_id):
                self.dropped += 1
                self._subscriptions.discard(sub)
                sub.end(dropped=True)

    def reset(self) -> None:
        """Changes may have been missed (the live-update feed from other replicas was cut):
        every subscriber is dropped, as a slow one is, so dashboards reconnect and reload."""
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()
        for sub in self._subscriptions:
            sub.end(dropped=True)
        self._subscriptions.clear()

    def close(self) -> None:
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()
        for sub in self._subscriptions:
            sub.end()
        self._subscriptions.clear()

    def __len__(self) -> int:
        return len(self._subscribers) + len(self._subscriptions)
