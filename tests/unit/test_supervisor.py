"""Supervisor restart policies and the Registry (dynamic supervisor), on virtual time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing

from pipelogiq.actors.registry import Registry
from pipelogiq.actors.supervisor import Restart, RestartBudgetExceeded, Supervisor

EPS = 1e-9


class Crash(Exception):
    pass


class Child:
    """A child that records the virtual time of each start and then does `behaviour`."""

    def __init__(self, behaviour: Callable[[int], object]) -> None:
        self.starts: list[float] = []
        self._behaviour = behaviour

    async def __call__(self) -> None:
        self.starts.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        outcome = self._behaviour(len(self.starts))
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "forever":
            await trio.sleep_forever()


def deltas(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


# -- Supervisor -----------------------------------------------------------------------------


async def test_crashing_child_is_restarted_with_exponential_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    named: list[str] = []
    sup = Supervisor("c", restart=Restart.TRANSIENT, backoff=(0.05, 1.0), max_restarts=100,
                     window=1000.0, on_restart=named.append)
    # crash 8 times, then return normally (transient: not restarted)
    child = Child(lambda n: Crash(n) if n <= 8 else None)
    t0 = trio.current_time()
    await sup.run(child)
    assert len(child.starts) == 9
    assert child.starts[0] == t0
    assert deltas(child.starts) == pytest.approx(
        [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0], abs=EPS)  # doubled, capped at backoff[1]
    assert sup.restarts == 8
    assert named == ["c"] * 8


async def test_transient_child_is_not_restarted_after_a_normal_return(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.TRANSIENT)
    child = Child(lambda n: None)
    await sup.run(child)
    assert len(child.starts) == 1
    assert sup.restarts == 0


async def test_permanent_child_is_restarted_after_a_normal_return(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT, backoff=(0.05, 5.0))
    with trio.CancelScope() as scope:
        def behaviour(n: int) -> object:
            if n == 2:
                return Crash()  # a crash in between is backed off as usual
            if n == 4:
                scope.cancel()
                return "forever"
            return None

        child = Child(behaviour)
        await sup.run(child)
    assert scope.cancelled_caught
    assert len(child.starts) == 4
    # Every restart is backed off and counted, a normal return too: a child that returns at
    # once must not spin (0.05, then a crash: 0.1, then a return: 0.2).
    assert deltas(child.starts) == pytest.approx([0.05, 0.1, 0.2], abs=EPS)
    assert sup.restarts == 3


async def test_permanent_child_returning_at_once_hits_the_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT, max_restarts=5, window=60.0)
    child = Child(lambda n: None)
    with pytest.raises(RestartBudgetExceeded):
        await sup.run(child)
    assert len(child.starts) == 6


@pytest.mark.parametrize("crash", [True, False])
async def test_temporary_child_is_never_restarted(
    autojump_clock: trio.testing.MockClock, crash: bool
) -> None:
    sup = Supervisor("c", restart=Restart.TEMPORARY)
    child = Child(lambda n: Crash() if crash else None)
    await sup.run(child)  # the crash is logged, not raised
    assert len(child.starts) == 1
    assert sup.restarts == 0


async def test_restart_budget_exceeded_moves_the_failure_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT, backoff=(0.05, 5.0), max_restarts=3,
                     window=60.0)
    child = Child(lambda n: Crash(n))
    with pytest.raises(RestartBudgetExceeded, match="restarted 4 times in 60s") as info:
        await sup.run(child)
    assert isinstance(info.value.__cause__, Crash)
    assert info.value.__cause__.args == (4,)
    assert len(child.starts) == 4
    assert sup.restarts == 3
    assert deltas(child.starts) == pytest.approx([0.05, 0.1, 0.2], abs=EPS)


async def test_crashes_outside_the_window_do_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.TRANSIENT, backoff=(0.05, 0.05), max_restarts=2,
                     window=1.0)

    async def child() -> None:
        starts.append(trio.current_time())
        if len(starts) > 10:
            return
        await trio.sleep(1.0)  # one crash per ~1.05 s: never more than one inside the window
        raise Crash()

    starts: list[float] = []
    await sup.run(child)
    assert len(starts) == 11
    assert sup.restarts == 10


async def test_cancelled_is_not_swallowed_while_the_child_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT)
    child = Child(lambda n: "forever")
    with trio.move_on_after(5) as scope:
        await sup.run(child)
    assert scope.cancelled_caught
    assert len(child.starts) == 1
    assert trio.current_time() == pytest.approx(5, abs=EPS)


async def test_cancelled_is_not_swallowed_during_the_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT, backoff=(10.0, 10.0))
    child = Child(lambda n: Crash())
    with trio.move_on_after(5) as scope:
        await sup.run(child)
    assert scope.cancelled_caught
    assert len(child.starts) == 1  # cancelled in the 10 s backoff, never restarted
    assert sup.restarts == 1


class _Stop(BaseException):
    """Not an Exception: passes through the supervisor to end the test."""


async def test_permanent_child_returning_at_once_is_rate_limited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("c", restart=Restart.PERMANENT, backoff=(0.05, 5.0), max_restarts=10,
                     window=60.0)
    child = Child(lambda n: _Stop() if n > 1000 else None)
    try:
        await sup.run(child)
    except (_Stop, RestartBudgetExceeded):
        pass
    # Either the budget stopped it, or the restarts were spaced out by the backoff.
    assert len(child.starts) <= 11 or trio.current_time() > 1.0


# -- Registry -------------------------------------------------------------------------------


class Actors:
    """A factory for Registry actors that records every incarnation and what it received."""

    def __init__(self) -> None:
        self.incarnations: list[tuple[str, trio.MemoryReceiveChannel[str], float]] = []
        self.received: list[tuple[int, str]] = []  # (incarnation, message)
        self.release = trio.Event()
        self.exit_after: int | None = None  # return after this many messages
        self.block = False  # wait for `release` after each message
        self._changed = trio.Event()

    async def wait_received(self, n: int) -> None:
        while len(self.received) < n:
            await self._changed.wait()

    async def actor(self, key: str, inbox: trio.MemoryReceiveChannel[str]) -> None:
        self.incarnations.append((key, inbox, trio.current_time()))
        me = len(self.incarnations)
        handled = 0
        while True:
            try:
                msg = await inbox.receive()
            except trio.EndOfChannel:
                return
            self.received.append((me, msg))
            self._changed.set()
            self._changed = trio.Event()
            if msg == "boom":
                raise Crash("boom")
            handled += 1
            if self.block:
                await self.release.wait()
            if self.exit_after is not None and handled >= self.exit_after:
                return


async def test_registry_offer_spawns_an_actor_on_the_first_message(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    reg: Registry[str, str] = Registry("t", actors.actor, nursery)
    assert "k" not in reg and len(reg) == 0
    reg.offer("k", "hello")
    assert "k" in reg and len(reg) == 1
    await trio.testing.wait_all_tasks_blocked()
    assert [k for k, _, _ in actors.incarnations] == ["k"]
    assert actors.received == [(1, "hello")]
    reg.offer("other", "hi")
    await trio.testing.wait_all_tasks_blocked()
    assert len(reg) == 2
    assert actors.received == [(1, "hello"), (2, "hi")]


async def test_registry_offer_coalesces_wake_ups_for_a_busy_actor(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    actors.block = True
    reg: Registry[str, str] = Registry("t", actors.actor, nursery)
    reg.offer("k", "w1")
    await trio.testing.wait_all_tasks_blocked()  # the actor holds w1 and is busy
    for msg in ("w2", "w3", "w4"):
        reg.offer("k", msg)  # w2 fills the one-slot inbox; w3, w4 are dropped
    actors.release.set()
    await trio.testing.wait_all_tasks_blocked()
    assert actors.received == [(1, "w1"), (1, "w2")]
    assert len(actors.incarnations) == 1


async def test_registry_respawns_an_actor_after_it_exits(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    actors.exit_after = 1
    reg: Registry[str, str] = Registry("t", actors.actor, nursery)
    reg.offer("k", "first")
    await trio.testing.wait_all_tasks_blocked()
    assert "k" not in reg  # it exited: the registry forgot it
    reg.offer("k", "second")
    await trio.testing.wait_all_tasks_blocked()
    assert actors.received == [(1, "first"), (2, "second")]
    assert len(actors.incarnations) == 2
    assert actors.incarnations[0][1] is not actors.incarnations[1][1]  # a fresh inbox
    assert reg.restarts == 0


async def test_registry_hands_a_message_queued_while_leaving_to_a_new_incarnation(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    actors.exit_after = 1
    actors.block = True
    reg: Registry[str, str] = Registry("t", actors.actor, nursery)
    reg.offer("k", "first")
    await trio.testing.wait_all_tasks_blocked()
    reg.offer("k", "late")  # queued in the inbox of an actor that is about to leave
    actors.release.set()
    await trio.testing.wait_all_tasks_blocked()
    assert actors.received == [(1, "first"), (2, "late")]


async def test_registry_send_waits_for_room_and_delivers_every_message(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    actors.block = True
    reg: Registry[str, str] = Registry("t", actors.actor, nursery)
    reg.offer("k", "a")
    await trio.testing.wait_all_tasks_blocked()
    reg.offer("k", "b")  # inbox full now
    sent = trio.Event()

    async def sender() -> None:
        await reg.send("k", "c")  # must wait, not drop
        sent.set()

    nursery.start_soon(sender)
    await trio.testing.wait_all_tasks_blocked()
    assert not sent.is_set()
    actors.release.set()
    await sent.wait()
    await trio.testing.wait_all_tasks_blocked()
    assert [m for _, m in actors.received] == ["a", "b", "c"]


async def test_registry_restarts_a_crashing_actor_on_the_same_inbox(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    actors = Actors()
    restarted: list[str] = []
    reg: Registry[str, str] = Registry("t", actors.actor, nursery, on_restart=restarted.append)
    t0 = trio.current_time()
    reg.offer("k", "boom")
    await trio.testing.wait_all_tasks_blocked(cushion=0.0)  # crashed; in its 0.05 s backoff
    assert restarted == ["t:k"]
    assert "k" in reg  # still registered during the backoff
    reg.offer("k", "after")  # lands in the same inbox, read by the next incarnation
    await actors.wait_received(2)  # the clock jumps over the backoff
    assert actors.received == [(1, "boom"), (2, "after")]
    (_, inbox1, t1), (_, inbox2, t2) = actors.incarnations
    assert inbox1 is inbox2
    assert t1 == t0 and t2 - t0 == pytest.approx(0.05, abs=EPS)
    reg.offer("k", "again")  # the restarted actor keeps serving
    await trio.testing.wait_all_tasks_blocked()
    assert actors.received[-1] == (2, "again")
    assert len(actors.incarnations) == 2
