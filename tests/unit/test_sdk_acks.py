"""The SDK's ack coalescing: acks that finish while a request is in flight go together in the
next one, answered per item; a lone ack goes at once in the plain form."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
import trio.testing

from pipelogiq.sdk._acks import AckAnswer, AckBatcher


class Remote:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hold: trio.Event | None = None
        self.entered = trio.Event()
        self.batch_status = 200
        self.fail_with: Exception | None = None

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        self.requests.append(body)
        self.entered.set()
        if self.hold is not None:
            hold, self.hold = self.hold, None
            await hold.wait()
        if self.fail_with is not None:
            raise self.fail_with
        if "acks" in body:
            if self.batch_status != 200:
                return httpx.Response(self.batch_status, text="bad item\n")
            return httpx.Response(200, json={"results": [
                {"token": a["token"], "code": 409 if a["token"] == "late" else 200,
                 **({"message": "superseded"} if a["token"] == "late" else {})}
                for a in body["acks"]]})
        return httpx.Response(200, json={"status": "ok"})


async def _send_all(batcher: AckBatcher, tokens: list[str]) -> dict[str, AckAnswer]:
    answers: dict[str, AckAnswer] = {}

    async def one(token: str) -> None:
        answers[token] = await batcher.send({"token": token})

    async with trio.open_nursery() as n:
        for token in tokens:
            n.start_soon(one, token)
    return answers


async def test_acks_finishing_during_a_request_go_together_in_the_next() -> None:
    remote = Remote()
    remote.hold = hold = trio.Event()
    batcher = AckBatcher(remote.post, capacity=8)
    answers: list[dict[str, AckAnswer]] = []
    async with trio.open_nursery() as n:
        n.start_soon(batcher.run)
        n.start_soon(batcher.send, {"token": "a"})
        await remote.entered.wait()  # "a" is in flight, alone, in the plain form
        assert remote.requests == [{"token": "a"}]

        async with trio.open_nursery() as senders:
            async def send() -> None:
                answers.append(await _send_all(batcher, ["b", "late", "c"]))

            senders.start_soon(send)
            await trio.testing.wait_all_tasks_blocked()
            assert len(remote.requests) == 1  # they wait for the request in flight
            hold.set()
        n.cancel_scope.cancel()
    assert sorted(a["token"] for a in remote.requests[1]["acks"]) == ["b", "c", "late"]
    assert len(remote.requests) == 2
    assert answers[0] == {"b": AckAnswer(200), "late": AckAnswer(409, "superseded"),
                          "c": AckAnswer(200)}


async def test_a_refused_batch_is_sent_again_item_by_item() -> None:
    remote = Remote()
    remote.batch_status = 400
    batcher = AckBatcher(remote.post, capacity=4)
    async with trio.open_nursery() as n:
        n.start_soon(batcher.run)
        remote.hold = trio.Event()
        hold = remote.hold
        n.start_soon(batcher.send, {"token": "x"})
        await remote.entered.wait()
        async with trio.open_nursery() as senders:
            result: list[dict[str, AckAnswer]] = []

            async def send() -> None:
                result.append(await _send_all(batcher, ["y", "z"]))

            senders.start_soon(send)
            await trio.testing.wait_all_tasks_blocked()
            hold.set()
        n.cancel_scope.cancel()
    assert sorted(a["token"] for a in remote.requests[1]["acks"]) == ["y", "z"]
    assert sorted(r["token"] for r in remote.requests[2:]) == ["y", "z"]
    assert result[0] == {"y": AckAnswer(200), "z": AckAnswer(200)}


async def test_network_errors_reach_every_waiter() -> None:
    remote = Remote()
    remote.fail_with = httpx.ConnectError("refused")
    batcher = AckBatcher(remote.post, capacity=4)
    async with trio.open_nursery() as n:
        n.start_soon(batcher.run)
        with pytest.raises(httpx.ConnectError):
            await batcher.send({"token": "q"})
        n.cancel_scope.cancel()
