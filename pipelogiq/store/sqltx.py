"""Transaction and row helpers for the SQLite connection thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipelogiq.domain import StageOptions, StageState, StageStatus


@contextmanager
def tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: taken at once (IMMEDIATE) so conditional updates never race."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
        options=StageOptions.from_json(json.loads(row["options"])),
        next_retry_at=row["next_retry_at"],
        is_event=bool(row["is_event"]),
    )


def stage_log(
    conn: sqlite3.Connection,
    pipeline_id: int,
    stage_id: int | None,
    now: float,
    level: str,
    message: str,
) -> None:
    conn.execute(
        "INSERT INTO stage_logs (pipeline_id, stage_id, created_at, level, message)"
        " VALUES (?, ?, ?, ?, ?)",
        (pipeline_id, stage_id, now, level, message),
    )


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
