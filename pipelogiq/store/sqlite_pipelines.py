"""Creating and listing pipelines on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

from pipelogiq.domain import NewPipeline
from pipelogiq.security import new_span_id, new_trace_id
from pipelogiq.store.base import FollowOn, PipelineQuery
from pipelogiq.store.sqlite_enforcement import app_may_have_policies
from pipelogiq.store.sqlite_engine import follow_on
from pipelogiq.store.sqlite_read import pipeline_doc, pipeline_json, pipelines_json
from pipelogiq.store.sqltx import contains, dumps, like, stage_log, tx


def create_pipeline(conn: sqlite3.Connection, new: NewPipeline, now: float) -> tuple[int, bool]:
    """Store a pipeline and its stages in one transaction (SPEC §3.1).

    Returns (id, created); the same idempotency key again returns the first pipeline.
    """
    with tx(conn):
        pid, created, _ = _insert(conn, new, now)
        return pid, created


def create_and_start(conn: sqlite3.Connection, new: NewPipeline,
                     now: float) -> tuple[int, bool, FollowOn | None, dict[str, Any]]:
    """`create_pipeline`, and in the same transaction its first step (`follow_on`: the first
    stage dispatched when no policy may act on it) and its pipeline JSON (SPEC §4.1: built
    from what was written when the first step was taken here, else read back)."""
    with tx(conn):
        pid, created, written = _insert(conn, new, now)
        follow = None
        if created:
            policies = app_may_have_policies(conn, new.application_id)
            follow = follow_on(conn, pid, now, policies)
        if follow is None or written is None:
            doc = pipeline_json(conn, pid)
            assert doc is not None
            return pid, created, follow, doc
        p, stage_rows = written
        if follow.job is not None:
            p["status"], p["started_at"] = "Running", now
        if follow.finished is not None:
            p["status"], p["finished_at"] = follow.finished[0], now
        for row, state in zip(stage_rows, follow.stages, strict=True):
            row["id"], row["status"] = state.id, str(state.status)
        context = {k: (v, t) for k, v, t in new.context}  # an upsert: the last one counts
        return pid, True, follow, pipeline_doc(
            p, stage_rows,
            [{"key": k, "value": v, "valueType": t} for k, (v, t) in sorted(context.items())],
            [{"key": k, "value": v} for k, v in new.keywords], None)


Row = dict[str, Any]


def _insert(conn: sqlite3.Connection, new: NewPipeline,
                 now: float) -> tuple[int, bool, tuple[Row, list[Row]] | None]:
    """Insert `new` unless its idempotency key is taken: (id, created, the pipeline and stage
    rows as written, by column — the stages' ids aside)."""
    if new.idempotency_key:
        row = conn.execute(
            "SELECT id FROM pipelines WHERE application_id = ? AND idempotency_key = ?",
            (new.application_id, new.idempotency_key),
        ).fetchone()
        if row is not None:
            return row[0], False, None
    is_event = len(new.stages) == 1 and new.stages[0].is_event
    p: Row = {"name": new.name, "trace_id": new.trace_id or new_trace_id(),
              "status": "NotStarted", "created_at": now, "started_at": None,
              "finished_at": None, "application_id": new.application_id, "is_event": is_event}
    p["id"] = pid = conn.execute(
        "INSERT INTO pipelines (application_id, name, trace_id, status, is_event,"
        " idempotency_key, created_at, updated_at) VALUES (?, ?, ?, 'NotStarted', ?, ?, ?, ?)"
        " RETURNING id",
        (new.application_id, new.name, p["trace_id"], is_event, new.idempotency_key, now, now),
    ).fetchone()[0]
    stages: list[Row] = [
        {"id": None, "pipeline_id": pid, "span_id": new_span_id(), "name": s.name,
         "handler": s.handler, "description": s.description, "status": "NotStarted",
         "created_at": now, "started_at": None, "finished_at": None, "input": s.input,
         "output": None, "error_code": None, "is_event": s.is_event, "attempt": 1,
         "next_retry_at": None, "wait_reason": None, "options": dumps(s.options.to_json())}
        for s in new.stages]
    conn.executemany(
        "INSERT INTO stages (pipeline_id, application_id, position, name, handler,"
        " description, input, status, span_id, is_event, options, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'NotStarted', ?, ?, ?, ?)",
        [(pid, new.application_id, i, s["name"], s["handler"], s["description"], s["input"],
          s["span_id"], s["is_event"], s["options"], now) for i, s in enumerate(stages)],
    )
    if new.keywords:
        conn.executemany(
            "INSERT INTO keywords (pipeline_id, key, value) VALUES (?, ?, ?)",
            [(pid, k, v) for k, v in new.keywords],
        )
    if new.context:
        conn.executemany(
            "INSERT INTO context_items (pipeline_id, key, value, value_type, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, key) DO UPDATE SET"
            " value = excluded.value, value_type = excluded.value_type",
            [(pid, k, v, t, now) for k, v, t in new.context],
        )
    stage_log(conn, pid, None, now, "Information",
              f"Pipeline created with {len(new.stages)} stage(s)")
    return pid, True, (p, stages)


def list_pipelines(conn: sqlite3.Connection, q: PipelineQuery) -> dict[str, Any]:
    """One page of pipelines, newest first with id as the tie-breaker (a stable order)."""
    if not q.application_ids:
        return {"items": [], "totalCount": 0, "pageNumber": q.page_number, "pageSize": q.page_size}
    where = [f"p.application_id IN ({','.join('?' * len(q.application_ids))})"]
    args: list[Any] = list(q.application_ids)
    if q.statuses:
        where.append(f"p.status IN ({','.join('?' * len(q.statuses))})")
        args += list(q.statuses)
    if q.search:
        where.append(
            f"({contains('p.name')} OR EXISTS (SELECT 1 FROM keywords k WHERE k.pipeline_id = p.id"
            f" AND ({contains('k.key')} OR {contains('k.value')})) OR EXISTS (SELECT 1 FROM"
            f" context_items c WHERE c.pipeline_id = p.id AND ({contains('c.key')}"
            f" OR {contains('c.value')})))"
        )
        args += [like(q.search)] * 5
    for kw in q.keywords:
        key, sep, value = kw.partition(":")
        if sep:
            where.append("EXISTS (SELECT 1 FROM keywords k WHERE k.pipeline_id = p.id"
                         " AND k.key = ? AND k.value = ?)")
            args += [key, value]
        else:
            where.append("EXISTS (SELECT 1 FROM keywords k WHERE k.pipeline_id = p.id"
                         " AND (k.value = ? OR k.key = ?))")
            args += [kw, kw]
    for key, value in q.context:
        where.append("EXISTS (SELECT 1 FROM context_items c WHERE c.pipeline_id = p.id"
                     " AND c.key = ? AND c.value = ?)")
        args += [key, value]
    for column, op, bound in (
        ("created_at", ">=", q.start_from), ("created_at", "<=", q.start_to),
        ("finished_at", ">=", q.end_from), ("finished_at", "<=", q.end_to),
    ):
        if bound is not None:
            where.append(f"p.{column} {op} ?")
            args.append(bound)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM pipelines p WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT p.* FROM pipelines p WHERE {clause} ORDER BY p.created_at DESC, p.id DESC"
        " LIMIT ? OFFSET ?",
        [*args, q.page_size, (q.page_number - 1) * q.page_size],
    ).fetchall()
    return {
        "items": pipelines_json(conn, rows),
        "totalCount": total,
        "pageNumber": q.page_number,
        "pageSize": q.page_size,
    }
