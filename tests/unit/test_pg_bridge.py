"""The PostgreSQL facade's pure parts: SQL translation, status parsing, parameter coercion,
synchronous code awaiting through a greenlet, and the pool's retry of a transaction that lost
a race (no server needed: the greenlet runner awaits whatever it is given, here under Trio)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import trio

from pipelogiq.store import pg_pool
from pipelogiq.store.pg_bridge import (
    SERIALIZABLE,
    PgCursor,
    _to_int,
    _to_text,
    await_,
    run_in_greenlet,
    translate,
)
from pipelogiq.store.pg_pool import PgPool
from pipelogiq.store.sqltx import ROW_LOCKS, for_update, tx


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT * FROM t WHERE a = ? AND b IN (?, ?)",
     "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"),
    ("SELECT '?' , ? FROM t WHERE x LIKE ? ESCAPE '\\'",
     "SELECT '?' , $1 FROM t WHERE x LIKE $2 ESCAPE '\\'"),
    ("SELECT 'it''s ?', \"odd?col\", ? -- why?\nFROM t WHERE y = ?",
     "SELECT 'it''s ?', \"odd?col\", $1 -- why?\nFROM t WHERE y = $2"),
    ("BEGIN IMMEDIATE", SERIALIZABLE),
    ("begin exclusive", SERIALIZABLE),
    ("BEGIN", "BEGIN"),
    ("BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN ISOLATION LEVEL READ COMMITTED"),
    ("COMMIT", "COMMIT"),
])
def test_translate(sql: str, expected: str) -> None:
    assert translate(sql) == expected


def test_cursor_reads_like_sqlite() -> None:
    cur = PgCursor([(1,), (2,), (3,)], "UPDATE 3")
    assert cur.rowcount == 3
    assert cur.fetchone() == (1,)
    assert list(cur) == [(2,), (3,)]
    assert cur.fetchone() is None
    assert PgCursor([], "INSERT 0 1").rowcount == 1
    assert PgCursor([], "BEGIN").rowcount == -1


def test_coercion_does_what_sqlite_would() -> None:
    assert _to_int(True) == 1 and type(_to_int(True)) is int
    assert _to_int(3.0) == 3 and _to_int(2.5) == 2.5  # left for the driver to refuse
    assert _to_text(5) == "5" and _to_text(False) == "0" and _to_text(None) is None


# -- synchronous code awaiting through a greenlet ----------------------------------------------

class Boom(Exception):
    pass


async def _double(x: int) -> int:
    await trio.lowlevel.checkpoint()
    return 2 * x


async def _fail() -> None:
    await trio.lowlevel.checkpoint()
    raise Boom("from the loop")


async def test_sync_code_awaits_through_the_greenlet() -> None:
    seen: list[str] = []

    def work(a: int) -> int:
        total = await_(_double(a)) + await_(_double(a + 1))
        try:
            await_(_fail())
        except Boom:  # thrown back in where it awaited
            seen.append("caught")
        return total

    assert await run_in_greenlet(work, 5) == 22
    assert seen == ["caught"]

    def unhandled() -> None:
        await_(_fail())

    with pytest.raises(Boom):
        await run_in_greenlet(unhandled)


async def test_greenlets_interleave_on_one_loop() -> None:
    order: list[str] = []

    def step(name: str, event: trio.Event, other: trio.Event) -> None:
        order.append(f"{name} starts")
        event.set()
        await_(other.wait())
        order.append(f"{name} ends")

    a, b = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_in_greenlet, step, "a", a, b)
        nursery.start_soon(run_in_greenlet, step, "b", b, a)
    assert sorted(order[:2]) == ["a starts", "b starts"]


def test_await_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match="outside"):
        await_(_double(1))


# -- the isolation a transaction asks for --------------------------------------------------------

class Recorder:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.sql: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.sql.append(sql)


def test_tx_asks_postgres_for_its_isolation_and_sqlite_for_its_lock() -> None:
    pg, lite = Recorder("postgres"), Recorder("sqlite")
    for conn in (pg, lite):
        with tx(conn):  # type: ignore[arg-type]
            pass
        with tx(conn, ROW_LOCKS):  # type: ignore[arg-type]
            pass
    assert pg.sql == ["BEGIN IMMEDIATE", "COMMIT", "BEGIN ISOLATION LEVEL READ COMMITTED", "COMMIT"]
    assert lite.sql == ["BEGIN IMMEDIATE", "COMMIT"] * 2
    assert translate(pg.sql[0]) == SERIALIZABLE
    assert for_update(pg) == " FOR UPDATE" and for_update(lite) == ""


# -- the pool runs a transaction that lost a race again ------------------------------------------

class SerializationFailure(Exception):
    sqlstate = "40001"


class FakeSidecar:
    async def run(self, corofn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await corofn(*args)


class FakeConn:
    async def transact(self, fn: Callable[..., Any], args: Sequence[Any]) -> Any:
        return fn(self, *args)


def _pool() -> PgPool:
    return PgPool(FakeSidecar(), "postgresql://unused")  # type: ignore[arg-type]


async def test_a_transaction_that_lost_a_race_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_pool, "BACKOFF", 0.0)
    calls: list[int] = []

    def work(c: Any, n: int) -> str:
        calls.append(n)
        if len(calls) < 3:
            raise SerializationFailure("could not serialize access")
        return "done"

    assert await _pool()._transact(FakeConn(), work, (7,)) == "done"  # type: ignore[arg-type]
    assert calls == [7, 7, 7]

    def broken(c: Any) -> None:
        calls.append(0)
        raise ValueError("not a race")

    with pytest.raises(ValueError):
        await _pool()._transact(FakeConn(), broken, ())  # type: ignore[arg-type]
    assert calls == [7, 7, 7, 0]


async def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_pool, "BACKOFF", 0.0)
    monkeypatch.setattr(pg_pool, "MAX_ATTEMPTS", 4)
    calls: list[None] = []

    def always(c: Any) -> None:
        calls.append(None)
        raise SerializationFailure()

    with pytest.raises(SerializationFailure):
        await _pool()._transact(FakeConn(), always, ())  # type: ignore[arg-type]
    assert len(calls) == 4
