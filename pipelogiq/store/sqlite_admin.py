"""Pipelines on the internal API (SQLite): context, log lines, deletion, and the scoping checks
the other `sqlite_admin_*` modules share. A row of an application outside `app_ids` is
answered exactly like a missing one (404), so ids never leak across tenants."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

from pipelogiq.store.base import StoreError, iso
from pipelogiq.store.sqlite_read import context_items
from pipelogiq.store.sqltx import tx

FINISHED_PIPELINE = ("Completed", "Failed", "Cancelled")


def scoped_pipeline(conn: sqlite3.Connection, pipeline_id: int,
                    app_ids: Collection[int]) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM pipelines WHERE id = ?",
                                            (pipeline_id,)).fetchone()
    if row is None or row["application_id"] not in app_ids:
        raise StoreError(404, f"pipeline {pipeline_id} not found")
    return row


def scoped_application(conn: sqlite3.Connection, app_id: int,
                       app_ids: Collection[int]) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM applications WHERE id = ?",
                                            (app_id,)).fetchone()
    if row is None or row["id"] not in app_ids:
        raise StoreError(404, f"application {app_id} not found")
    return row


def scoped_worker(conn: sqlite3.Connection, worker_id: str,
                  app_ids: Collection[int]) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM workers WHERE id = ?",
                                            (worker_id,)).fetchone()
    if row is None or row["application_id"] not in app_ids:
        raise StoreError(404, f"worker {worker_id} not found")
    return row


def pipeline_context(conn: sqlite3.Connection, pipeline_id: int,
                     app_ids: Collection[int]) -> list[dict[str, Any]]:
    scoped_pipeline(conn, pipeline_id, app_ids)
    return context_items(conn, pipeline_id)


def pipeline_log_lines(
    conn: sqlite3.Connection, pipeline_id: int, stage_id: int | None, app_ids: Collection[int],
    after_id: int, limit: int,
) -> list[dict[str, Any]]:
    """Log lines in the order written. Without `stage_id`: the pipeline's own lines (which
    carry no stageId) and every stage's; with it: that stage's, 404 if it is not this
    pipeline's. `after_id` pages forward from the last id a client has."""
    scoped_pipeline(conn, pipeline_id, app_ids)
    where, args = "pipeline_id = ? AND id > ?", [pipeline_id, after_id]
    if stage_id is not None:
        owner = conn.execute("SELECT pipeline_id FROM stages WHERE id = ?", (stage_id,)).fetchone()
        if owner is None or owner[0] != pipeline_id:
            raise StoreError(404, f"stage {stage_id} not found in pipeline {pipeline_id}")
        where += " AND stage_id = ?"
        args.append(stage_id)
    rows = conn.execute(
        f"SELECT id, stage_id, created_at, level, message FROM stage_logs WHERE {where}"
        " ORDER BY id LIMIT ?", [*args, limit]).fetchall()
    out = []
    for r in rows:
        line: dict[str, Any] = {"id": r["id"], "pipelineId": pipeline_id}
        if r["stage_id"] is not None:
            line["stageId"] = r["stage_id"]
        line.update(created=iso(r["created_at"]), logLevel=r["level"], message=r["message"])
        out.append(line)
    return out


def delete_pipeline(conn: sqlite3.Connection, pipeline_id: int,
                    app_ids: Collection[int]) -> None:
    """Delete a finished pipeline with its stages, leases, logs, context and keywords (the
    same rows retention purges). An unfinished one is 409: cancel it first."""
    with tx(conn):
        row = scoped_pipeline(conn, pipeline_id, app_ids)
        if row["status"] not in FINISHED_PIPELINE:
            raise StoreError(409, f"pipeline is {row['status']}; only a finished pipeline"
                                  " (Completed, Failed or Cancelled) can be deleted")
        conn.execute("DELETE FROM job_leases WHERE stage_id IN"
                     " (SELECT id FROM stages WHERE pipeline_id = ?)", (pipeline_id,))
        for table in ("stage_logs", "context_items", "keywords", "stages"):
            conn.execute(f"DELETE FROM {table} WHERE pipeline_id = ?", (pipeline_id,))
        conn.execute("DELETE FROM pipelines WHERE id = ?", (pipeline_id,))
