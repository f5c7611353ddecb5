"""The PostgreSQL facade's pure parts: SQL translation, status parsing, parameter coercion,
and the connection thread's retry of a transaction that lost a race (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.store import pg_threads
from pipelogiq.store.pg_bridge import SERIALIZABLE, PgCursor, _to_int, _to_text, translate
from pipelogiq.store.pg_threads import PgThreads


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


class SerializationFailure(Exception):
    sqlstate = "40001"


class FakeConn:
    def __init__(self) -> None:
        self.rollbacks = 0

    def rollback(self) -> None:
        self.rollbacks += 1


def test_a_transaction_that_lost_a_race_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_threads, "BACKOFF", 0.0)
    threads = PgThreads(Sidecar(), "postgresql://unused")
    conn = FakeConn()
    calls: list[int] = []

    def work(c: Any, n: int) -> str:
        calls.append(n)
        if len(calls) < 3:
            raise SerializationFailure("could not serialize access")
        return "done"

    assert threads.invoke(conn, work, (7,)) == "done"  # type: ignore[arg-type]
    assert calls == [7, 7, 7] and conn.rollbacks == 2

    def broken(c: Any) -> None:
        raise ValueError("not a race")

    with pytest.raises(ValueError):
        threads.invoke(conn, broken, ())  # type: ignore[arg-type]
    assert conn.rollbacks == 2


def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_threads, "BACKOFF", 0.0)
    monkeypatch.setattr(pg_threads, "MAX_ATTEMPTS", 4)
    threads = PgThreads(Sidecar(), "postgresql://unused")
    calls: list[None] = []

    def always(c: Any) -> None:
        calls.append(None)
        raise SerializationFailure()

    with pytest.raises(SerializationFailure):
        threads.invoke(FakeConn(), always, ())  # type: ignore[arg-type]
    assert len(calls) == 4
