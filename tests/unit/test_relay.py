"""`Relay`: pipeline ids for other replicas, batched while a publish is in flight, each id once
per batch, and a failed publish neither stops the relay nor blocks callers."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from pipelogiq.actors import relay
from pipelogiq.actors.relay import Relay


def test_messages_round_trip_and_reject_strangers() -> None:
    assert relay.decode(relay.encode("me", [3, 1])) == ("me", [3, 1])
    for bad in (b"[]", b'{"pipelineIds": "1"}', b'{"pipelineIds": [1.5]}', b"{"):
        with pytest.raises(ValueError):
            relay.decode(bad)


async def test_ids_added_while_publishing_go_in_the_next_batch(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    sent: list[list[int]] = []
    gate = trio.Event()

    async def send(body: bytes) -> None:
        sent.append(relay.decode(body)[1])
        await gate.wait()  # a slow publish

    r = Relay("test", "me", send)
    nursery.start_soon(r.run)
    r.add(1)
    await trio.testing.wait_all_tasks_blocked()
    for pid in (2, 3, 2, 4):
        r.add(pid)
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert sent == [[1], [2, 3, 4]] and r.sent == 2


async def test_a_failed_publish_is_logged_and_the_relay_goes_on(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[list[int]] = []

    async def send(body: bytes) -> None:
        calls.append(relay.decode(body)[1])
        if len(calls) == 1:
            raise ConnectionError("broker away")

    r = Relay("wakes", "me", send)
    nursery.start_soon(r.run)
    r.add(7)
    await trio.testing.wait_all_tasks_blocked()
    r.add(8)
    await trio.sleep(relay.FAILURE_PAUSE)
    await trio.testing.wait_all_tasks_blocked()
    assert calls == [[7], [8]] and r.sent == 1
    assert "wakes: 1 pipeline id(s) not relayed: broker away" in caplog.text
