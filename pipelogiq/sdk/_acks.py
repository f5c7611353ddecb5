"""Coalescing acks: results that finish while an ack request is in flight go together in the
next one (``{"acks": [...]}``, answered per item), so a busy worker sends far fewer requests
than it runs jobs, and a lone ack still goes at once in the plain form (no timer, no delay)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import attrs
import httpx

from ._wire import JSONDict, error_message

log = logging.getLogger("pipelogiq.sdk.worker")

MAX_BATCH = 100  # what the API accepts in one request

Post = Callable[[JSONDict], Any]  # awaitable POST /jobs/ack with this body → httpx.Response


@attrs.frozen
class AckAnswer:
    status_code: int
    message: str = ""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


@attrs.define(eq=False)
class _Pending:
    body: JSONDict
    done: anyio.Event = attrs.Factory(anyio.Event)
    answer: AckAnswer | None = None
    error: BaseException | None = None


class AckBatcher:
    """`run()` sends; `send(body)` waits for that body's answer. Network errors and a rejected
    API key are raised to every waiter of the request, whose own retry rules then apply."""

    def __init__(self, post: Post, capacity: int) -> None:
        self._post = post
        # every running job has at most one ack waiting: `capacity` (the worker's concurrency)
        # bounds the buffer
        self._send, self._recv = anyio.create_memory_object_stream[_Pending](max(1, capacity))

    async def send(self, body: JSONDict) -> AckAnswer:
        item = _Pending(body)
        await self._send.send(item)
        await item.done.wait()
        if item.error is not None:
            raise item.error
        assert item.answer is not None
        return item.answer

    async def run(self) -> None:
        async with self._recv:
            async for first in self._recv:
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._recv.receive_nowait())
                    except anyio.WouldBlock:
                        break
                try:
                    await self._flush(batch)
                finally:
                    for item in batch:
                        if item.answer is None and item.error is None:
                            item.error = RuntimeError("the ack sender stopped")
                        item.done.set()

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            if len(batch) == 1:
                batch[0].answer = _answer(await self._post(batch[0].body))
                return
            response = await self._post({"acks": [item.body for item in batch]})
            if response.status_code in (400, 413):  # one bad item refuses the whole batch
                for item in batch:
                    item.answer = _answer(await self._post(item.body))
                return
            if not response.is_success:
                for item in batch:
                    item.answer = _answer(response)
                return
            results = response.json().get("results") or []
            for item, result in zip(batch, results, strict=False):
                item.answer = AckAnswer(int(result.get("code", 500)),
                                        str(result.get("message") or ""))
            for item in batch[len(results):]:
                item.answer = AckAnswer(500, "no answer for this ack in the batch")
        except Exception as exc:
            for item in batch:
                if item.answer is None:
                    item.error = exc


def _answer(response: httpx.Response) -> AckAnswer:
    return AckAnswer(response.status_code,
                     "" if response.is_success else error_message(response))
