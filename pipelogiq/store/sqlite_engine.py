"""Stage transitions on SQLite: dispatch, leases, results, watchdog reclaims.

Each function runs on the connection thread as one transaction, and each transition is one
conditional update (on status, attempt and, for leases, the token) computed by
`pipelogiq.statemachine`, so a stale caller can never overwrite newer state.

On PostgreSQL these transactions run READ COMMITTED (`ROW_LOCKS`), not SERIALIZABLE: each
locks the stage rows it reads before deciding (`for_update`), so a racing transaction waits
for it and then reads the row as it left it; what else they write is a conditional update,
an insert, an atomic `x = x + 1`, or a policy's budget locked the same way
(`sqlite_enforcement`). Locks are taken stage first, then its lease, then policy rows in
policy order; what can still deadlock (two lease batches locking the same stages in opposite
orders) is detected by PostgreSQL, and the transaction that lost runs again.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

from pipelogiq import statemachine as sm
from pipelogiq.domain import Delivered, Job, JobResult, StageState, StageStatus
from pipelogiq.security import digest, new_token
from pipelogiq.store.base import AckOutcome, FollowOn, Held, Reclaimed, StageRef, StoreError
from pipelogiq.store.sqlite_enforcement import (
    MAY_HAVE_POLICIES,
    StageView,
    attempt_finished,
    attempt_limit,
    gate,
    may_have_policies,
    retry_rule,
)
from pipelogiq.store.sqlite_read import context_items_of, stage_next
from pipelogiq.store.sqltx import (
    ROW_LOCKS,
    STAGE_STATE_COLUMNS,
    for_update,
    marks,
    stage_log,
    stage_state,
    tx,
)

_STAGE_STATE_OF_S = ", ".join(f"s.{c.strip()}" for c in STAGE_STATE_COLUMNS.split(","))

# The pipeline's trace id beside a stage row: the job payload needs it (`stage_next`).
_TRACE_ID = "(SELECT trace_id FROM pipelines WHERE id = stages.pipeline_id) AS trace_id"

_LEVEL = {
    StageStatus.FAILED: "Error",
    StageStatus.RETRY_SCHEDULED: "Warning",
    StageStatus.PENDING: "Warning",
}


def stage_states(conn: sqlite3.Connection, pipeline_id: int) -> tuple[str | None, list[StageState]]:
    rows = conn.execute(  # what `stage_state` reads (not the inputs and outputs), in one query
        f"SELECT p.status AS pipeline_status, {_STAGE_STATE_OF_S} FROM pipelines p"
        " LEFT JOIN stages s ON s.pipeline_id = p.id WHERE p.id = ? ORDER BY s.position",
        (pipeline_id,),
    ).fetchall()
    if not rows:
        return None, []
    return rows[0]["pipeline_status"], [stage_state(r) for r in rows if r["id"] is not None]


def _job(row: sqlite3.Row, attempt: int | None = None) -> Job:
    return Job(
        application_id=row["application_id"],
        handler=row["handler"],
        stage_id=row["id"],
        pipeline_id=row["pipeline_id"],
        attempt=row["attempt"] if attempt is None else attempt,
    )


def dispatch(
    conn: sqlite3.Connection, stage_id: int, now: float, reason: str
) -> Job | Held | None:
    """Ready stage → `Pending` (SPEC §3.3) unless a policy holds it back (SPEC §6); returns the
    job to publish, the hold, or None if the stage moved. The stage is locked before the gate
    runs: a second dispatcher of it waits, then finds it moved, so a dispatch spends a policy's
    budget at most once."""
    with tx(conn, ROW_LOCKS):
        row = conn.execute(
            f"SELECT *, {MAY_HAVE_POLICIES} FROM stages"
            " WHERE id = ? AND status IN ('NotStarted', 'RetryScheduled')" + for_update(conn),
            (stage_id,),
        ).fetchone()
        if row is None:
            return None
        held = gate(StageView(conn, row), now)
        if held is not None:
            return held
        return _to_pending(conn, stage_id, now, reason)


def _to_pending(conn: sqlite3.Connection, stage_id: int, now: float, reason: str,
                running: bool = False) -> Job | None:
    """The dispatch itself; `running`: the pipeline is known to be `Running` already."""
    row = conn.execute(
        "UPDATE stages SET status = 'Pending', pending_since = ?, ready_at = ?,"
        " next_retry_at = NULL, wait_reason = NULL, held_until = NULL, held_by = NULL"
        " WHERE id = ? AND status IN ('NotStarted', 'RetryScheduled') RETURNING *",
        (now, now, stage_id),
    ).fetchone()
    if row is None:
        return None
    if not running:
        conn.execute(
            "UPDATE pipelines SET status = 'Running', started_at = COALESCE(started_at, ?),"
            " updated_at = ? WHERE id = ? AND status IN ('NotStarted', 'Running')",
            (now, now, row["pipeline_id"]),
        )
    stage_log(conn, row["pipeline_id"], stage_id, now, "Information",
              f"Pending: {reason} (attempt {row['attempt']})", attempt=row["attempt"])
    return _job(row)


def finish_pipeline(
    conn: sqlite3.Connection, pipeline_id: int, status: str, reason: str, now: float
) -> bool:
    with tx(conn, ROW_LOCKS):  # one conditional update: it re-checks the row it waited for
        return _finish(conn, pipeline_id, status, reason, now)


def _finish(conn: sqlite3.Connection, pipeline_id: int, status: str, reason: str,
            now: float) -> bool:
    cur = conn.execute(
        "UPDATE pipelines SET status = ?, finished_at = ?, updated_at = ?"
        " WHERE id = ? AND status IN ('NotStarted', 'Running')",
        (status, now, now, pipeline_id),
    )
    if cur.rowcount:
        stage_log(conn, pipeline_id, None, now, "Error" if status == "Failed" else "Information",
                  f"Pipeline {status}: {reason}")
    return bool(cur.rowcount == 1)


def follow_on(conn: sqlite3.Connection, pipeline_id: int, now: float,
              policies: bool) -> FollowOn | None:
    """Inside the transaction that settled one of its stages: the pipeline's next step, as its
    actor would take it (`sm.plan`), when that step needs no policy and no timer — the next
    stage dispatched, or the pipeline finished. None leaves the step to the pipeline's actor
    (`policies`: one may act on the pipeline's stages; a retry waits; the stage moved)."""
    status, stages = stage_states(conn, pipeline_id)
    if status not in ("NotStarted", "Running"):
        return None
    match sm.plan(stages, now):
        case sm.Dispatch(stage):
            if policies:
                return None
            job = _to_pending(conn, stage.id, now, "retry due" if stage.retries_used else "ready",
                              running=status == "Running")
            if job is None:
                return None
            after = [attrs.evolve(s, status=StageStatus.PENDING) if s.id == stage.id else s
                     for s in stages]
            return FollowOn(tuple(after), job=job,
                            settled=isinstance(sm.plan(after, now), sm.Busy))
        case sm.Finish(outcome, reason):
            if not _finish(conn, pipeline_id, outcome, reason, now):
                return None
            return FollowOn(tuple(stages), finished=(outcome, reason))
    return None


def write_transition(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    t: sm.Transition,
    now: float,
    *,
    output: str | None = None,
    error_code: str | None = None,
) -> bool:
    """Write `t` over `row` if the stage has not moved since it was read."""
    pending = t.status == StageStatus.PENDING
    cur = conn.execute(
        "UPDATE stages SET status = ?, attempt = ?, retries_used = ?, redeliveries = ?,"
        " next_retry_at = ?, output = COALESCE(?, output), error_code = ?,"
        " finished_at = ?, pending_since = ?, ready_at = CASE WHEN ? THEN ? ELSE ready_at END,"
        " lease_token = NULL, lease_until = NULL, lease_worker_id = NULL, attempt_deadline = NULL"
        " WHERE id = ? AND status = ? AND attempt = ?",
        (
            t.status, t.attempt, t.retries_used, t.redeliveries, t.next_retry_at, output,
            error_code, now if t.finished else None, now if pending else None,
            pending, now, row["id"], row["status"], row["attempt"],
        ),
    )
    if cur.rowcount != 1:
        return False
    stage_log(conn, row["pipeline_id"], row["id"], now, _LEVEL.get(t.status, "Information"),
              f"{t.status}: {t.reason}", attempt=t.attempt)
    return True


def lease(
    conn: sqlite3.Connection,
    jobs: Sequence[Job],
    queue: str,
    worker_id: str | None,
    now: float,
    lease_seconds: float,
) -> list[Delivered]:
    """`Pending → Running` for each job still current (SPEC §3.4); stale jobs are dropped.
    Each stage is locked as it is read: a racing lease of the same job waits, then finds it
    `Running` and drops it, so exactly one delivery gets a token."""
    out: list[Delivered] = []
    with tx(conn, ROW_LOCKS):
        ids = sorted({job.stage_id for job in jobs})  # locked in id order: no deadlock
        rows = {r["id"]: r for r in conn.execute(
            f"SELECT *, {MAY_HAVE_POLICIES}, {_TRACE_ID} FROM stages"
            f" WHERE id IN ({marks(ids)}) AND status = 'Pending' ORDER BY id"
            + for_update(conn), ids)}
        contexts = context_items_of(conn, {r["pipeline_id"] for r in rows.values()})
        for job in jobs:
            row = rows.get(job.stage_id)
            if row is None or row["attempt"] != job.attempt:
                continue
            limit, source = attempt_limit(StageView(conn, row), stage_state(row).options.time_out)
            deadline = now + limit if limit else None
            until = now + lease_seconds if deadline is None else min(now + lease_seconds, deadline)
            token = new_token()
            key = digest(token)  # stored hashed: a leaked database does not ack jobs
            if conn.execute(
                "UPDATE stages SET status = 'Running', lease_token = ?, lease_until = ?,"
                " lease_worker_id = ?, attempt_started_at = ?, attempt_deadline = ?,"
                " started_at = COALESCE(started_at, ?), pending_since = NULL"
                " WHERE id = ? AND status = 'Pending' AND attempt = ?",
                (key, until, worker_id, now, deadline, now, job.stage_id, job.attempt),
            ).rowcount != 1:
                continue  # the same job twice in one batch: delivered once
            conn.execute(
                "INSERT INTO job_leases (token, stage_id, application_id, attempt, worker_id,"
                " created_at, state) VALUES (?, ?, ?, ?, ?, ?, 'active')",
                (key, job.stage_id, job.application_id, job.attempt, worker_id, now),
            )
            who = f"worker {worker_id}" if worker_id else "a worker"
            bound = f", {limit:g}s limit from {source}" if limit else ""
            stage_log(conn, row["pipeline_id"], row["id"], now, "Information",
                      f"Running: delivered to {who} (attempt {job.attempt}{bound})",
                      attempt=job.attempt)
            payload, headers = stage_next(conn, row, contexts.get(row["pipeline_id"], []))
            if limit:
                payload["timeoutSeconds"] = limit  # the limit in force, a policy's included
            out.append(Delivered(token, queue, f"{job.stage_id}.{job.attempt}", payload,
                                 headers, until, row["ready_at"], now))
    return out


def return_leases(conn: sqlite3.Connection, tokens: Sequence[str], now: float) -> list[Job]:
    """Deliveries nobody received (the puller left): back to `Pending`, same attempt (one
    conditional update per token, which re-checks a row it had to wait for)."""
    jobs = []
    with tx(conn, ROW_LOCKS):
        for key in map(digest, tokens):
            row = conn.execute(
                "UPDATE stages SET status = 'Pending', lease_token = NULL, lease_until = NULL,"
                " lease_worker_id = NULL, attempt_deadline = NULL, pending_since = ?"
                " WHERE lease_token = ? AND status = 'Running' RETURNING *",
                (now, key),
            ).fetchone()
            conn.execute("UPDATE job_leases SET state = 'returned' WHERE token = ?", (key,))
            if row is not None:
                stage_log(conn, row["pipeline_id"], row["id"], now, "Information",
                          "Pending: the puller left before the job reached it")
                jobs.append(_job(row))
    return jobs


def _lease_for(
    conn: sqlite3.Connection, application_id: int, token: str
) -> tuple[dict[str, Any] | None, sqlite3.Row | None, AckOutcome | None]:
    """The lease of `token` and its stage (locked), in one query."""
    stage = conn.execute(
        f"SELECT stages.*, {MAY_HAVE_POLICIES}, l.state AS lease_state,"
        " l.worker_id AS lease_worker, l.application_id AS lease_application"
        " FROM job_leases l JOIN stages ON stages.id = l.stage_id WHERE l.token = ?"
        + for_update(conn, "stages"), (token,)).fetchone()
    if stage is None or stage["lease_application"] != application_id:
        return None, None, AckOutcome("not_found", "unknown job token")
    lease_row = {"token": token, "state": stage["lease_state"], "worker_id": stage["lease_worker"]}
    return lease_row, stage, None


def _conflict_reason(stage: sqlite3.Row, lease_row: Any) -> str:
    if stage["status"] == StageStatus.CANCELLED:
        return "cancelled: the pipeline was cancelled"
    if stage["status"] == StageStatus.SKIPPED:
        return "skipped: the stage was skipped by an operator"
    if lease_row["state"] == "lost" and stage["status"] in (
            StageStatus.FAILED, StageStatus.RETRY_SCHEDULED):
        return ("superseded: this attempt ended without its result (timed out or its worker"
                f" was lost); the stage is {stage['status']}")
    return "superseded: this attempt was redelivered to another worker"


def _current(
    conn: sqlite3.Connection, application_id: int, token: str, now: float
) -> tuple[Any, sqlite3.Row | None, AckOutcome | None]:
    """The lease and stage for `token` if it is the live attempt, else the answer to give."""
    token = digest(token)
    lease_row, stage, answer = _lease_for(conn, application_id, token)
    if answer is not None:
        return None, None, answer
    assert lease_row is not None and stage is not None
    if lease_row["state"] == "acked":
        return lease_row, stage, AckOutcome("duplicate", "already applied", stage["pipeline_id"])
    if stage["lease_token"] != token or stage["status"] != StageStatus.RUNNING:
        # The lease was read before the stage's lock: the transaction this one waited for may
        # have settled it (a concurrent ack of the same token: then this one is a duplicate).
        lease_row = conn.execute("SELECT * FROM job_leases WHERE token = ?", (token,)).fetchone()
        if lease_row is None:  # purged meanwhile with its finished pipeline
            return None, None, AckOutcome("not_found", "unknown job token")
        if lease_row["state"] == "acked":
            return lease_row, stage, AckOutcome("duplicate", "already applied",
                                                stage["pipeline_id"])
        return None, None, AckOutcome("conflict", _conflict_reason(stage, lease_row),
                                      stage["pipeline_id"])
    if stage["lease_until"] is not None and stage["lease_until"] < now:
        return None, None, AckOutcome("not_found", "job lease expired")
    return lease_row, stage, None


def ack(
    conn: sqlite3.Connection, application_id: int, token: str, result: JobResult, now: float,
    follow: bool = False,
) -> AckOutcome:
    """Apply a worker's result as one conditional update (SPEC §3.5). `follow`: in the same
    transaction, take the pipeline's next step when it needs no policy and no timer
    (`follow_on`): one commit per hop instead of two."""
    return ack_many(conn, application_id, [(token, result)], now, follow)[0]


def ack_many(
    conn: sqlite3.Connection, application_id: int, items: Sequence[tuple[str, JobResult]],
    now: float, follow: bool = False,
) -> list[AckOutcome]:
    """`ack` for each of a worker's results, in order, in one transaction: one commit for the
    whole batch. Each is answered on its own (a stale token is that item's 404 or 409)."""
    tally: Counter[tuple[str, str]] = Counter()  # the workers' counters, once per batch
    with tx(conn, ROW_LOCKS):  # each stage is locked by `_current`
        out = [_ack(conn, application_id, token, result, now, follow, tally)
               for token, result in items]
        for (worker_id, column), n in sorted(tally.items()):
            conn.execute(f"UPDATE workers SET {column} = {column} + ? WHERE id = ?",
                         (n, worker_id))
        return out


def _ack(
    conn: sqlite3.Connection, application_id: int, token: str, result: JobResult, now: float,
    follow: bool, tally: Counter[tuple[str, str]],
) -> AckOutcome:
    lease_row, stage, answer = _current(conn, application_id, token, now)
    if answer is not None:
        return answer
    assert lease_row is not None and stage is not None
    outcome = apply_result(conn, stage, result, now, lease_row["worker_id"], tally)
    if outcome.kind == "applied":
        conn.execute("UPDATE job_leases SET state = 'acked' WHERE token = ?",
                     (lease_row["token"],))
        if follow:  # the pipeline's stages share the acked stage's application
            outcome = attrs.evolve(outcome, follow=follow_on(
                conn, stage["pipeline_id"], now, may_have_policies(stage)))
    return outcome


def apply_result(
    conn: sqlite3.Connection, stage: sqlite3.Row, result: JobResult, now: float,
    worker_id: str | None, tally: Counter[tuple[str, str]] | None = None,
) -> AckOutcome:
    """Settle the attempt `stage` (as read in this transaction) with `result`: the
    transition, its logs, context items and the worker's counters (counted in `tally` for
    the caller to write, when given)."""
    view = StageView(conn, stage)
    before = stage_state(stage)
    t = sm.settle(before, result, now, retry=retry_rule(view), rand=random.random())
    if not write_transition(conn, stage, t, now, output=result.output,
                            error_code=result.error_code):
        return AckOutcome("conflict", "superseded: the stage moved", stage["pipeline_id"])
    for line in result.logs:
        stage_log(conn, stage["pipeline_id"], stage["id"], line.created, line.level,
                  line.message, state_change=False)
    if t.status == StageStatus.COMPLETED and result.context:
        conn.executemany(
            "INSERT INTO context_items (pipeline_id, key, value, value_type, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, key) DO UPDATE SET"
            " value = excluded.value, value_type = excluded.value_type,"
            " updated_at = excluded.updated_at",
            [(stage["pipeline_id"], c.key, c.value, c.value_type, now) for c in result.context],
        )
    if worker_id:
        column = "processed" if t.status == StageStatus.COMPLETED else "failed"
        if tally is None:
            conn.execute(f"UPDATE workers SET {column} = {column} + 1 WHERE id = ?",
                         (worker_id,))
        else:
            tally[(worker_id, column)] += 1
    attempt_ok = result.is_success and t.status == StageStatus.COMPLETED
    wake = attempt_finished(view, attempt_ok, now)
    started = stage["attempt_started_at"]
    return AckOutcome("applied", "", stage["pipeline_id"], t.status, None, stage["handler"],
                      None if started is None else now - started, tuple(wake),
                      stage_id=stage["id"], triggers=tuple(view.triggers),
                      state=attrs.evolve(before, status=t.status, attempt=t.attempt,
                                         retries_used=t.retries_used,
                                         redeliveries=t.redeliveries,
                                         next_retry_at=t.next_retry_at))


def requeue(
    conn: sqlite3.Connection, application_id: int, token: str, now: float, max_redeliveries: int
) -> AckOutcome:
    """The worker hands the job back: a lost attempt (SPEC §3.7), not a failure."""
    with tx(conn, ROW_LOCKS):  # the stage is locked by `_current`
        _, stage, answer = _current(conn, application_id, token, now)
        if answer is not None:
            return answer
        assert stage is not None
        t = sm.lost(stage_state(stage), max_redeliveries, "the worker handed the job back")
        write_transition(conn, stage, t, now)
        conn.execute("UPDATE job_leases SET state = 'lost' WHERE token = ?",
                     (stage["lease_token"],))
        job = _job(stage, t.attempt) if t.status == StageStatus.PENDING else None
        return AckOutcome("applied", "", stage["pipeline_id"], t.status, job,
                          stage_id=stage["id"])


def extend(
    conn: sqlite3.Connection, application_id: int, token: str, seconds: float, now: float
) -> float:
    """Push the lease deadline forward, never past the attempt's `timeOut`."""
    with tx(conn, ROW_LOCKS):  # the stage is locked by `_current`
        _, stage, answer = _current(conn, application_id, token, now)
        if answer is not None:
            status = {"not_found": 404, "duplicate": 409}.get(answer.kind, 409)
            raise StoreError(status, answer.reason)
        assert stage is not None
        deadline = stage["attempt_deadline"]
        if deadline is not None and deadline <= now:
            raise StoreError(409, "the attempt is past its timeOut")
        until = now + seconds if deadline is None else min(now + seconds, deadline)
        conn.execute("UPDATE stages SET lease_until = ? WHERE id = ? AND lease_token = ?",
                     (until, stage["id"], stage["lease_token"]))
        return float(until)


def _reclaim_rows(
    conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], now: float, max_redeliveries: int,
    reason: str,
) -> Reclaimed:
    jobs, pids, failed = [], set(), []
    for row in rows:
        state = stage_state(row)
        deadline = row["attempt_deadline"]
        if deadline is not None and deadline <= now:
            view = StageView(conn, row)
            limit, source = attempt_limit(view, state.options.time_out)
            t = sm.fail(state, now, f"timed out after {limit or 0:g}s ({source})",
                        retry=retry_rule(view), rand=random.random())
            pids.update(attempt_finished(view, False, now))
        else:
            t = sm.lost(state, max_redeliveries, reason)
        if not write_transition(conn, row, t, now):
            continue
        if row["lease_token"]:
            conn.execute("UPDATE job_leases SET state = 'lost' WHERE token = ?",
                         (row["lease_token"],))
        pids.add(row["pipeline_id"])
        if t.status == StageStatus.PENDING:
            jobs.append(_job(row, t.attempt))
        elif t.status == StageStatus.FAILED:
            failed.append(StageRef(row["pipeline_id"], row["id"]))
    return Reclaimed(tuple(jobs), frozenset(pids), tuple(failed))


def reclaim_expired(conn: sqlite3.Connection, now: float, max_redeliveries: int) -> Reclaimed:
    """Running stages whose lease ran out without an ack. They are locked as they are read
    (waiting for an ack in flight, then skipping a row it moved). Not SKIP LOCKED: the watchdog
    would see the skipped row's deadline passed and look again at once, spinning until the
    lock went; waiting costs one transaction's time and no CPU."""
    with tx(conn, ROW_LOCKS):
        rows = conn.execute(
            "SELECT * FROM stages WHERE status = 'Running' AND lease_until <= ? LIMIT 500"
            + for_update(conn), (now,)
        ).fetchall()
        return _reclaim_rows(conn, rows, now, max_redeliveries, "job lease expired without an ack")


def reclaim_worker(
    conn: sqlite3.Connection, worker_id: str, now: float, max_redeliveries: int, reason: str
) -> Reclaimed:
    """Every stage a lost or departed worker still holds (locked as they are read)."""
    with tx(conn, ROW_LOCKS):
        rows = conn.execute(
            "SELECT * FROM stages WHERE status = 'Running' AND lease_worker_id = ?"
            + for_update(conn), (worker_id,)
        ).fetchall()
        return _reclaim_rows(conn, rows, now, max_redeliveries, reason)


def fail_stale_pending(conn: sqlite3.Connection, now: float, timeout: float) -> Reclaimed:
    """Pending longer than STAGE_PENDING_TIMEOUT: a failed attempt (SPEC §3.8). Locked as
    they are read, like `reclaim_expired` (a lease in flight wins, then the row is skipped)."""
    pids, failed, stuck = set(), [], []
    with tx(conn, ROW_LOCKS):
        rows = conn.execute(
            "SELECT * FROM stages WHERE status = 'Pending' AND pending_since <= ? LIMIT 500"
            + for_update(conn),
            (now - timeout,),
        ).fetchall()
        for row in rows:
            t = sm.fail(stage_state(row), now, f"no worker took the job within {timeout:g}s",
                        retry=retry_rule(StageView(conn, row)), rand=random.random())
            if write_transition(conn, row, t, now):
                pids.add(row["pipeline_id"])
                ref = StageRef(row["pipeline_id"], row["id"])
                stuck.append(ref)
                if t.status == StageStatus.FAILED:
                    failed.append(ref)
    return Reclaimed((), frozenset(pids), tuple(failed), tuple(stuck))


def next_deadline(conn: sqlite3.Connection, pending_timeout: float) -> float | None:
    row = conn.execute(
        "SELECT (SELECT MIN(lease_until) FROM stages WHERE status = 'Running'),"
        " (SELECT MIN(pending_since) FROM stages WHERE status = 'Pending')"
    ).fetchone()
    times = [t for t in (row[0], row[1] + pending_timeout if row[1] else None) if t is not None]
    return min(times) if times else None


def pending_jobs(conn: sqlite3.Connection) -> list[Job]:
    rows = conn.execute(  # in the order they became due: the index's own order
        "SELECT * FROM stages WHERE status = 'Pending' ORDER BY pending_since, id").fetchall()
    return [_job(r) for r in rows]


def idle_active_pipeline_ids(conn: sqlite3.Connection) -> list[int]:
    """Unfinished pipelines with no stage in flight: each has a next step to take."""
    rows = conn.execute(
        "SELECT p.id FROM pipelines p WHERE p.status IN ('NotStarted', 'Running')"
        " AND NOT EXISTS (SELECT 1 FROM stages s WHERE s.pipeline_id = p.id"
        " AND s.status IN ('Pending', 'Running')) ORDER BY p.id"
    ).fetchall()
    return [r[0] for r in rows]
