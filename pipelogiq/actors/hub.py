"""Fan-out of pipeline changes to live subscribers (the /ws sockets).

Publishing never waits: each subscriber has a small bounded buffer, and a subscriber whose
buffer is full is dropped (its channel closed) instead of slowing the engine.
"""

from __future__ import annotations

import trio

SUBSCRIBER_BUFFER = 64  # enough for a burst of changes; a reader this far behind is too slow


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[trio.MemorySendChannel[int]] = set()
        self.dropped = 0

    def subscribe(self) -> trio.MemoryReceiveChannel[int]:
        send, recv = trio.open_memory_channel[int](SUBSCRIBER_BUFFER)
        self._subscribers.add(send)
        return recv

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

    def close(self) -> None:
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)
