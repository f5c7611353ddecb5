"""A sqlite3-like facade over one asyncpg connection (the only module importing asyncpg), so
the store's SQL functions (`sqlite_*.py`) run unchanged on PostgreSQL.

A store function is synchronous; `PgConnection.transact` runs one, whole, on the sidecar's
asyncio loop inside a greenlet (SQLAlchemy's asyncio layer does the same): each
`conn.execute` switches back to the loop, which awaits asyncpg and switches in again with the
rows. Trio crosses to the loop once per transaction (`pg_pool.PgPool`); a statement costs a
greenlet switch (about a microsecond), not a thread hop.

The facade translates what the shared SQL says in SQLite's words: `?` placeholders become
`$1..$n`, `BEGIN IMMEDIATE`/`EXCLUSIVE` becomes a SERIALIZABLE transaction (the guarantee
SQLite's single writer gave; `sqltx.tx` asks for a weaker level where a function locks what it
depends on), and parameters are coerced to the types PostgreSQL inferred for them where SQLite
would have converted silently (an int bound to a text column, a bool to a bigint).
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar, cast

import asyncpg
import greenlet

T = TypeVar("T")

# Errors after which a connection cannot be trusted (a server-reported error leaves it
# usable, and so does a cancelled statement: asyncpg asks the server to cancel it and makes
# the connection's next statement wait until it has).
_BROKEN = (asyncpg.InternalClientError, asyncpg.ConnectionDoesNotExistError, OSError)

SERIALIZABLE = "BEGIN ISOLATION LEVEL SERIALIZABLE"
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
STATEMENT_CACHE = 256  # prepared statements kept per connection (LRU)

_TOKENS = re.compile(r"'[^']*'|\"[^\"]*\"|--[^\n]*|\?")
_SIMPLE = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|END|START|SAVEPOINT|RELEASE)\b", re.I)
_BEGIN = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION)\b", re.I)
_END = re.compile(r"^\s*(COMMIT|ROLLBACK|END)\s*;?\s*$", re.I)
_LOCKING_BEGIN = re.compile(r"^\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE)(\s+TRANSACTION)?\s*;?\s*$", re.I)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's placeholders and locking BEGIN in PostgreSQL's words; a `?` inside a string
    literal, a quoted identifier or a comment stays as it is."""
    if _LOCKING_BEGIN.match(sql):
        return SERIALIZABLE
    count = 0

    def number(m: re.Match[str]) -> str:
        nonlocal count
        if m.group() != "?":
            return m.group()
        count += 1
        return f"${count}"

    return _TOKENS.sub(number, sql)


def is_retryable(exc: BaseException) -> bool:
    """A transaction that lost a race (or ran a plan the schema outdated): run it again."""
    return (getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES
            or isinstance(exc, asyncpg.InvalidCachedStatementError))


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


# -- running synchronous code on the loop ------------------------------------------------------

class _TxGreenlet(greenlet.greenlet):  # type: ignore[misc]
    """A store function running on the asyncio loop: its statements switch back to await."""


def await_(awaitable: Awaitable[T]) -> T:
    """From synchronous code inside `run_in_greenlet`: await `awaitable` on the loop."""
    current = greenlet.getcurrent()
    if not isinstance(current, _TxGreenlet):
        if isinstance(awaitable, Coroutine):
            awaitable.close()  # never awaited: no "was never awaited" warning
        raise RuntimeError("a PostgreSQL statement outside PgConnection.transact")
    return cast(T, current.parent.switch(awaitable))


async def run_in_greenlet(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` to the end on this loop; every `await_` it makes is awaited here (an
    exception, cancellation included, is thrown back in at that point)."""
    glet = _TxGreenlet(fn, greenlet.getcurrent())
    result = glet.switch(*args)
    while not glet.dead:
        try:
            value = await result
        except BaseException as exc:  # handed to the function, which re-raises or handles it
            result = glet.throw(exc)
        else:
            result = glet.switch(value)
    return cast(T, result)


# -- the facade ---------------------------------------------------------------------------------

class PgCursor:
    """The part of `sqlite3.Cursor` the store uses. Rows are asyncpg `Record`s: addressable by
    column name and by index, unpackable, and `dict(row)` works, like `sqlite3.Row`."""

    def __init__(self, rows: Sequence[Any], status: str) -> None:
        self._rows = list(rows)
        self._pos = 0
        self.rowcount = _rowcount(status)

    def fetchone(self) -> Any:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[Any]:
        rest, self._pos = self._rows[self._pos:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _to_int(v: Any) -> Any:
    return int(v) if isinstance(v, bool) or (isinstance(v, float) and v.is_integer()) else v


def _to_text(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    return str(int(v)) if isinstance(v, bool) else str(v)


_COERCE: dict[str, Callable[[Any], Any]] = {
    "int2": _to_int, "int4": _to_int, "int8": _to_int,
    "text": _to_text, "varchar": _to_text, "bpchar": _to_text,
}


class _Statement:
    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self.coerce = tuple(_COERCE.get(p.name) for p in stmt.get_parameters())

    def args(self, params: Sequence[Any]) -> list[Any]:
        return [v if c is None else c(v) for c, v in zip(self.coerce, params, strict=False)]


class PgConnection:
    """One asyncpg connection, used by one transaction at a time (the pool hands it out).

    The async methods run on the sidecar's loop; the sqlite3-like ones (`execute`,
    `executemany`, `rollback`) only inside `transact`, from the function it runs."""

    dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: Any = None
        self._stmts: OrderedDict[str, _Statement] = OrderedDict()
        self._tx_open = False  # a BEGIN went out and no COMMIT or ROLLBACK since

    # -- the sqlite3-like side (synchronous, inside `transact`) ------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        rows, status = await_(self._execute(translate(sql), tuple(params)))
        return PgCursor(rows, status)

    def executemany(self, sql: str, seq_of_params: Sequence[Sequence[Any]]) -> PgCursor:
        batch = [tuple(p) for p in seq_of_params]
        if batch:
            await_(self._executemany(translate(sql), batch))
        return PgCursor([], f"EXECUTEMANY {len(batch)}")

    def rollback(self) -> None:
        """End whatever transaction is open (a failed COMMIT has ended it already)."""
        if self._in_transaction():
            self.execute("ROLLBACK")

    # -- the asyncio side --------------------------------------------------------------------
    async def connect(self) -> None:
        await self._connection()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._stmts.clear()
        if conn is not None:
            await conn.close()

    async def transact(self, fn: Callable[..., T], args: Sequence[Any]) -> T:
        """Run `fn(self, *args)` whole on this loop. A function must end the transactions it
        begins; if it raised with one open, it is rolled back here."""
        try:
            result = await run_in_greenlet(fn, self, *args)
        except BaseException:
            await self._abandon()
            raise
        if self._in_transaction():
            await self._abandon()
            raise RuntimeError(f"{getattr(fn, '__name__', fn)} left its transaction open")
        return result

    async def _abandon(self) -> None:
        """Roll back what is open; a connection that cannot even do that is dropped."""
        if not self._in_transaction():
            return
        try:
            await self._execute("ROLLBACK", ())
        except Exception:
            if self._conn is not None:
                self._conn.terminate()
            self._conn, self._tx_open = None, False
            self._stmts.clear()

    def _in_transaction(self) -> bool:
        return self._tx_open or (self._conn is not None and not self._conn.is_closed()
                                 and bool(self._conn.is_in_transaction()))

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            if self._tx_open:  # never finish a transaction on a new connection
                raise asyncpg.ConnectionDoesNotExistError(
                    "the connection was lost in the middle of a transaction")
            self._stmts.clear()
            self._conn = await asyncpg.connect(
                self._dsn, server_settings={"application_name": "pipelogiq"})
        return self._conn

    async def _prepared(self, conn: Any, sql: str) -> _Statement:
        st = self._stmts.get(sql)
        if st is None:
            st = self._stmts[sql] = _Statement(await conn.prepare(sql))
            if len(self._stmts) > STATEMENT_CACHE:
                self._stmts.popitem(last=False)  # asyncpg deallocates it once unreferenced
        else:
            self._stmts.move_to_end(sql)
        return st

    async def _execute(self, sql: str, params: tuple[Any, ...]) -> tuple[list[Any], str]:
        if not params and _END.match(sql):
            try:
                if sql.strip().upper() == "ROLLBACK" and (
                        self._conn is None or self._conn.is_closed()):
                    return [], "ROLLBACK"  # the connection died: its transaction went with it
                return [], await self._guard(sql, self._simple(sql))
            finally:
                self._tx_open = False
        if not params and _SIMPLE.match(sql):
            status = await self._guard(sql, self._simple(sql))
            if _BEGIN.match(sql):
                self._tx_open = True
            return [], status
        return await self._guard(sql, self._fetch(sql, params))

    async def _simple(self, sql: str) -> str:
        conn = await self._connection()
        return str(await conn.execute(sql))

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> tuple[list[Any], str]:
        st = await self._prepared(await self._connection(), sql)
        rows = await st.stmt.fetch(*st.args(params))
        return rows, st.stmt.get_statusmsg()

    async def _executemany(self, sql: str, batch: list[tuple[Any, ...]]) -> None:
        async def run() -> None:
            st = await self._prepared(await self._connection(), sql)
            await st.stmt.executemany([st.args(p) for p in batch])

        await self._guard(sql, run())

    async def _guard(self, sql: str, call: Awaitable[T]) -> T:
        """Forget a statement the schema outdated, and a connection that died or broke (the
        next statement reconnects, unless a transaction was open on it)."""
        try:
            return await call
        except BaseException as exc:
            if isinstance(exc, asyncpg.InvalidCachedStatementError):
                self._stmts.pop(sql, None)
            conn = self._conn
            if conn is not None and (conn.is_closed() or isinstance(exc, _BROKEN)):
                conn.terminate()
                self._conn = None
                self._stmts.clear()
            raise
