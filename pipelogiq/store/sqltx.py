"""Transaction and row helpers for the store's SQL functions (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pipelogiq.domain import StageOptions, StageState, StageStatus

# PostgreSQL isolation for `tx`. SQLite has one writer: every write transaction is taken at
# once (IMMEDIATE) and so is serial whatever is asked for.
SERIALIZABLE = "SERIALIZABLE"
# READ COMMITTED, for a function that locks every row whose reading decides what it writes
# (`for_update`) and otherwise writes only by conditional updates (on status, attempt, token),
# inserts and single-statement increments: it needs no more, and it escapes SERIALIZABLE's
# false conflicts (hot stages share index pages: most concurrent transitions failed and ran
# again). Each such function says why it is safe; the rest stay SERIALIZABLE.
ROW_LOCKS = "READ COMMITTED"


@contextmanager
def tx(conn: sqlite3.Connection, isolation: str = SERIALIZABLE) -> Iterator[sqlite3.Connection]:
    """One write transaction: on SQLite taken at once (IMMEDIATE) so conditional updates never
    race; on PostgreSQL at `isolation`, and run again by the pool if it loses a race."""
    if isolation == SERIALIZABLE or dialect_of(conn) != "postgres":
        conn.execute("BEGIN IMMEDIATE")  # the PostgreSQL facade reads it as SERIALIZABLE
    else:
        conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@functools.lru_cache(maxsize=512)
def stage_options(text: str) -> StageOptions:
    """A stage's stored options, parsed once per distinct text (they are frozen, and the
    engine reads them on every evaluation of a pipeline)."""
    return StageOptions.from_json(json.loads(text))


STAGE_STATE_COLUMNS = ("id, pipeline_id, position, handler, status, attempt, retries_used,"
                       " redeliveries, options, next_retry_at, is_event")


def stage_state(row: sqlite3.Row) -> StageState:
    return StageState(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        position=row["position"],
        handler=row["handler"],
        status=StageStatus(row["status"]),
        attempt=row["attempt"],
        retries_used=row["retries_used"],
        redeliveries=row["redeliveries"],
        options=stage_options(row["options"]),
        next_retry_at=row["next_retry_at"],
        is_event=bool(row["is_event"]),
    )


_LOG_LEVELS = {"Trace": logging.DEBUG, "Debug": logging.DEBUG, "Information": logging.INFO,
               "Warning": logging.WARNING, "Error": logging.ERROR, "Critical": logging.CRITICAL}
state_log = logging.getLogger("pipelogiq.state")


def stage_log(
    conn: sqlite3.Connection,
    pipeline_id: int,
    stage_id: int | None,
    now: float,
    level: str,
    message: str,
    *,
    attempt: int | None = None,
    state_change: bool = True,
) -> None:
    """A line in the pipeline's log (shown on the dashboard); a state change is also one
    structured process log line with its pipeline, stage and attempt."""
    if state_change:
        state_log.log(_LOG_LEVELS.get(level, logging.INFO), message, extra={
            "pipeline": pipeline_id, "stage": stage_id, "attempt": attempt})
    conn.execute(
        "INSERT INTO stage_logs (pipeline_id, stage_id, created_at, level, message)"
        " VALUES (?, ?, ?, ?, ?)",
        (pipeline_id, stage_id, now, level, message),
    )


def marks(values: Sequence[Any]) -> str:
    """`?,?,…` for an IN list; `NULL` for an empty one (matches nothing)."""
    return ",".join("?" * len(values)) or "NULL"


def contains(column: str) -> str:
    """A condition: `column` contains the pattern bound to its `?` (made by `like`), ignoring
    case as SQLite's LIKE does (PostgreSQL's LIKE does not)."""
    return f"LOWER({column}) LIKE LOWER(?) ESCAPE '\\'"


def dialect_of(conn: Any) -> str:
    """The SQL dialect: `postgres` for the PostgreSQL facade, `sqlite` for sqlite3."""
    return str(getattr(conn, "dialect", "sqlite"))


def for_update(conn: Any, of: str | None = None) -> str:
    """The clause that locks the rows a SELECT returns (of table `of` only, in a join) until
    the transaction ends, and makes a SELECT that waited for a lock read the rows as they are
    now (PostgreSQL re-checks its WHERE then). Nothing on SQLite, whose write transactions are
    serial anyway."""
    if dialect_of(conn) != "postgres":
        return ""
    return " FOR UPDATE" + (f" OF {of}" if of else "")


def int_floor(conn: Any, expr: str) -> str:
    """The integer `floor(expr)` of a non-negative `expr` (SQLite's CAST truncates,
    PostgreSQL's rounds)."""
    if dialect_of(conn) == "postgres":
        return f"CAST(FLOOR({expr}) AS INTEGER)"
    return f"CAST({expr} AS INTEGER)"


def json_text(conn: Any, expr: str, key: str) -> str:
    """The text member `key` of the JSON object in the TEXT column `expr` (NULL if none)."""
    if dialect_of(conn) == "postgres":
        return f"CASE WHEN {expr} LIKE '{{%' THEN CAST({expr} AS JSONB) ->> '{key}' END"
    return f"CASE WHEN json_valid({expr}) THEN json_extract({expr}, '$.{key}') END"


def like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
