"""`Relay`: pipeline ids for other processes, sent in batches (one message per batch).

Used in RabbitMQ mode for the two kinds of cross-replica news: "this pipeline changed" (to
every API replica's hub, through `StageUpdated.fanout`) and "this pipeline has a next step"
(to one engine, through the engines' wake queue). Adding never waits; while one batch is being
published the next accumulates (an id already waiting is not added twice), so a burst costs a
few messages, not one per change. Both kinds of news are hints: the database holds the state
and the engines' safety sweep catches a wake-up that was lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence

import trio

log = logging.getLogger("pipelogiq.relay")

MAX_BATCH = 1000  # ids per message
MAX_WAITING = 100_000  # ids held while the broker is away; beyond, news is dropped (logged)
FAILURE_PAUSE = 1.0  # after a failed publish (it already waited its own bound)

Send = Callable[[bytes], Awaitable[None]]


def encode(origin: str, pipeline_ids: Sequence[int]) -> bytes:
    return json.dumps({"origin": origin, "pipelineIds": list(pipeline_ids)},
                      separators=(",", ":")).encode()


def decode(body: bytes) -> tuple[str, list[int]]:
    """(origin, pipeline ids) of a relay message; ValueError when it is not one."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    ids = doc.get("pipelineIds")
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise ValueError("pipelineIds: expected an array of integers")
    return str(doc.get("origin") or ""), ids


class Relay:
    def __init__(self, name: str, origin: str, send: Send) -> None:
        self.name = name
        self._origin = origin
        self._send = send
        self._waiting: dict[int, None] = {}  # insertion-ordered set
        self._ready = trio.Event()
        self.sent = 0  # messages published (tests, metrics)
        self.dropped = 0

    def add(self, pipeline_id: int) -> None:
        if pipeline_id not in self._waiting:
            if len(self._waiting) >= MAX_WAITING:
                self.dropped += 1
                return
            self._waiting[pipeline_id] = None
        self._ready.set()

    async def run(self) -> None:
        """Owns the batching: publishes what is waiting, one message per MAX_BATCH ids,
        until cancelled. A failed publish is logged and its ids dropped (news, not state)."""
        while True:
            await self._ready.wait()
            self._ready = trio.Event()
            while self._waiting:
                batch = list(self._waiting)[:MAX_BATCH]
                for pipeline_id in batch:
                    del self._waiting[pipeline_id]
                try:
                    await self._send(encode(self._origin, batch))
                    self.sent += 1
                except Exception as exc:
                    log.warning("%s: %d pipeline id(s) not relayed: %s", self.name, len(batch),
                                exc)
                    await trio.sleep(FAILURE_PAUSE)
