"""Operator actions on SQLite (SPEC §3.10): each is one conditional update with a
precondition; a failed precondition is a 409 with the reason, an unknown or foreign id a 404."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from pipelogiq.store.base import StoreError
from pipelogiq.store.sqltx import stage_log, tx

_FINISHED = ("Completed", "Failed", "Skipped", "Cancelled")


def _stage(conn: sqlite3.Connection, stage_id: int, app_ids: Collection[int]) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM stages WHERE id = ?",
                                            (stage_id,)).fetchone()
    if row is None or row["application_id"] not in app_ids:
        raise StoreError(404, f"stage {stage_id} not found")
    return row


def _reopen(conn: sqlite3.Connection, pipeline_id: int, now: float) -> None:
    conn.execute(
        "UPDATE pipelines SET status = 'Running', finished_at = NULL, updated_at = ?"
        " WHERE id = ?", (now, pipeline_id))


def rerun(
    conn: sqlite3.Connection, stage_id: int, all_next: bool, user: str,
    app_ids: Collection[int], now: float,
) -> int:
    with tx(conn):
        row = _stage(conn, stage_id, app_ids)
        if row["status"] not in _FINISHED:
            raise StoreError(409, f"stage is {row['status']}; only a finished stage can be rerun")
        busy = conn.execute(
            "SELECT COUNT(*) FROM stages WHERE pipeline_id = ? AND status IN ('Pending','Running')",
            (row["pipeline_id"],)).fetchone()[0]
        if busy:
            raise StoreError(409, "a stage of this pipeline is Pending or Running")
        upper = "" if all_next else " AND position = ?"
        args: list[object] = [now, row["pipeline_id"], row["position"]]
        if not all_next:
            args.append(row["position"])
        reset = conn.execute(
            "UPDATE stages SET status = 'NotStarted', attempt = attempt + 1, retries_used = 0,"
            " redeliveries = 0, next_retry_at = NULL, output = NULL, error_code = NULL,"
            " finished_at = NULL, started_at = NULL, wait_reason = NULL, ready_at = ?"
            f" WHERE pipeline_id = ? AND position >= ?{upper} RETURNING id",
            args).fetchall()
        for r in reset:
            stage_log(conn, row["pipeline_id"], r[0], now, "Information",
                      f"NotStarted: rerun requested by {user}")
        _reopen(conn, row["pipeline_id"], now)
        return int(row["pipeline_id"])


def skip(
    conn: sqlite3.Connection, stage_id: int, user: str, app_ids: Collection[int], now: float
) -> int:
    with tx(conn):
        row = _stage(conn, stage_id, app_ids)
        if row["status"] not in ("NotStarted", "RetryScheduled", "Failed", "Pending"):
            raise StoreError(409, f"stage is {row['status']} and cannot be skipped")
        cur = conn.execute(
            "UPDATE stages SET status = 'Skipped', finished_at = ?, next_retry_at = NULL,"
            " pending_since = NULL WHERE id = ? AND status = ?", (now, stage_id, row["status"]))
        if cur.rowcount != 1:
            raise StoreError(409, "the stage changed; try again")
        stage_log(conn, row["pipeline_id"], stage_id, now, "Information",
                  f"Skipped: skipped by {user}")
        _reopen(conn, row["pipeline_id"], now)
        return int(row["pipeline_id"])


def cancel(
    conn: sqlite3.Connection, pipeline_id: int, user: str, app_ids: Collection[int], now: float
) -> int:
    with tx(conn):
        p = conn.execute("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
        if p is None or p["application_id"] not in app_ids:
            raise StoreError(404, f"pipeline {pipeline_id} not found")
        if p["status"] not in ("NotStarted", "Running"):
            raise StoreError(409, f"pipeline is {p['status']}; only an unfinished one can be cancelled")
        stopped = conn.execute(
            "UPDATE stages SET status = 'Cancelled', finished_at = ?, lease_token = NULL,"
            " lease_until = NULL, lease_worker_id = NULL, pending_since = NULL,"
            " next_retry_at = NULL WHERE pipeline_id = ?"
            " AND status IN ('NotStarted','Pending','Running','RetryScheduled') RETURNING id",
            (now, pipeline_id)).fetchall()
        for r in stopped:
            stage_log(conn, pipeline_id, r[0], now, "Warning", f"Cancelled: cancelled by {user}")
        conn.execute(
            "UPDATE pipelines SET status = 'Cancelled', finished_at = ?, updated_at = ?"
            " WHERE id = ?", (now, now, pipeline_id))
        stage_log(conn, pipeline_id, None, now, "Warning", f"Pipeline Cancelled by {user}")
        return pipeline_id


def retry_now(
    conn: sqlite3.Connection, stage_id: int, user: str, app_ids: Collection[int], now: float
) -> int:
    with tx(conn):
        row = _stage(conn, stage_id, app_ids)
        cur = conn.execute(
            "UPDATE stages SET next_retry_at = ? WHERE id = ? AND status = 'RetryScheduled'",
            (now, stage_id))
        if cur.rowcount != 1:
            raise StoreError(409, f"stage is {row['status']}; only a RetryScheduled stage can be retried now")
        stage_log(conn, row["pipeline_id"], stage_id, now, "Information",
                  f"RetryScheduled: retry now requested by {user}")
        return int(row["pipeline_id"])
