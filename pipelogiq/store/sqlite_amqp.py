"""Stage transitions for AMQP-direct workers (SPEC §3.4, §3.5, §5), the StageNext payload
their job messages carry, and the jobs a broker may have lost. Portable SQL: the same functions
run on SQLite and PostgreSQL.

These workers hold no lease token: `StageSetStatus Running` marks a `Pending` stage `Running`
(never a finished one), and a `StageResult` is applied while the stage is `Pending` or
`Running` — each as one conditional update on status and attempt, like every transition.
On PostgreSQL they run READ COMMITTED with the stage row locked first, as an HTTP ack does
(`sqlite_engine`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs

from pipelogiq.domain import Job, JobResult, StageStatus
from pipelogiq.store.base import AckOutcome
from pipelogiq.store.sqlite_enforcement import StageView, attempt_limit
from pipelogiq.store.sqlite_engine import apply_result
from pipelogiq.store.sqlite_read import stage_next
from pipelogiq.store.sqltx import ROW_LOCKS, for_update, stage_log, stage_state, tx

_OPEN = (StageStatus.PENDING, StageStatus.RUNNING)


def job_payloads(conn: sqlite3.Connection, jobs: Sequence[Job]) -> list[Job]:
    """Each job with the StageNext payload of its stage as stored now (a job whose stage is
    gone keeps none: it is stale and will be dropped on delivery anyway)."""
    out = []
    for job in jobs:
        row = conn.execute("SELECT * FROM stages WHERE id = ?", (job.stage_id,)).fetchone()
        if row is None:
            out.append(job)
            continue
        payload, _ = stage_next(conn, row)
        payload["attempt"] = job.attempt  # the attempt this message is for
        out.append(attrs.evolve(job, payload=payload))
    return out


def stale_pending_jobs(conn: sqlite3.Connection, before: float) -> list[Job]:
    """Jobs of stages `Pending` since before `before`, oldest first (the sweep checks they are
    queued)."""
    rows = conn.execute(
        "SELECT * FROM stages WHERE status = 'Pending' AND pending_since < ?"
        " ORDER BY pending_since, id LIMIT 1000", (before,)).fetchall()
    return [Job(r["application_id"], r["handler"], r["id"], r["pipeline_id"], r["attempt"])
            for r in rows]


def _stage(conn: sqlite3.Connection, stage_id: int, attempt: int | None
           ) -> tuple[sqlite3.Row | None, AckOutcome | None]:
    row = conn.execute("SELECT * FROM stages WHERE id = ?" + for_update(conn),
                       (stage_id,)).fetchone()
    if row is None:
        return None, AckOutcome("not_found", f"unknown stage {stage_id}")
    if attempt is not None and attempt != row["attempt"]:
        return None, AckOutcome("conflict", f"superseded: attempt {attempt} is over, the stage"
                                f" is at attempt {row['attempt']}", row["pipeline_id"],
                                row["status"], stage_id=stage_id)
    return row, None


def mark_running(conn: sqlite3.Connection, stage_id: int, attempt: int | None,
                 now: float) -> AckOutcome:
    """`Pending → Running` for an AMQP-direct worker. Already `Running` is a duplicate; any
    other status (a late message for a finished stage) is a conflict and changes nothing.
    The attempt is bounded only by its time limit (`timeOut` or a timeout policy), which
    stands in for the lease the watchdog checks."""
    with tx(conn, ROW_LOCKS):  # the stage is locked by `_stage`
        row, answer = _stage(conn, stage_id, attempt)
        if answer is not None:
            return answer
        assert row is not None
        if row["status"] == StageStatus.RUNNING:
            return AckOutcome("duplicate", "already Running", row["pipeline_id"], row["status"],
                              stage_id=stage_id)
        if row["status"] != StageStatus.PENDING:
            return AckOutcome("conflict", f"the stage is {row['status']}", row["pipeline_id"],
                              row["status"], stage_id=stage_id)
        limit, source = attempt_limit(StageView(conn, row), stage_state(row).options.time_out)
        deadline = now + limit if limit else None
        cur = conn.execute(
            "UPDATE stages SET status = 'Running', lease_token = NULL, lease_until = ?,"
            " lease_worker_id = NULL, attempt_started_at = ?, attempt_deadline = ?,"
            " started_at = COALESCE(started_at, ?), pending_since = NULL"
            " WHERE id = ? AND status = 'Pending' AND attempt = ?",
            (deadline, now, deadline, now, stage_id, row["attempt"]))
        if cur.rowcount != 1:
            return AckOutcome("conflict", "the stage moved", row["pipeline_id"],
                              stage_id=stage_id)
        bound = f", {limit:g}s limit from {source}" if limit else ""
        stage_log(conn, row["pipeline_id"], stage_id, now, "Information",
                  f"Running: taken by an AMQP worker (attempt {row['attempt']}{bound})",
                  attempt=row["attempt"])
        return AckOutcome("applied", "", row["pipeline_id"], StageStatus.RUNNING,
                          handler=row["handler"], stage_id=stage_id)


def apply_amqp_result(conn: sqlite3.Connection, stage_id: int, result: JobResult,
                      attempt: int | None, now: float) -> AckOutcome:
    """A `StageResult`: applied while the stage is `Pending` or `Running` (of `attempt`, when
    the message names one), else a conflict that changes nothing."""
    with tx(conn, ROW_LOCKS):  # the stage is locked by `_stage`
        row, answer = _stage(conn, stage_id, attempt)
        if answer is not None:
            return answer
        assert row is not None
        if row["status"] not in _OPEN:
            return AckOutcome("conflict", f"the stage is {row['status']}", row["pipeline_id"],
                              row["status"], stage_id=stage_id)
        if row["started_at"] is None:  # no Running was seen: it started when it finished
            conn.execute("UPDATE stages SET started_at = ? WHERE id = ?", (now, stage_id))
        return apply_result(conn, row, result, now, row["lease_worker_id"])
