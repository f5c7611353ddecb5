"""Dashboard statistics and the scrape-time metric gauges on SQLite. Every time bound comes
from the caller (the injected clock), never from the database's clock. `app_ids` None means
every application (the process-wide metrics); a sequence scopes to those applications."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from pipelogiq.domain import PipelineStatus
from pipelogiq.store.base import iso
from pipelogiq.store.sqlite_admin import FINISHED_PIPELINE
from pipelogiq.store.sqltx import int_floor, marks

WORKER_STATES = ("starting", "ready", "degraded", "draining", "stopped", "error", "offline")
PIPELINE_STATUSES = tuple(s.value for s in PipelineStatus)

AppScope = Sequence[int] | None


def _scope(app_ids: AppScope, column: str = "application_id") -> tuple[str, list[Any]]:
    if app_ids is None:
        return "1 = 1", []
    return f"{column} IN ({marks(app_ids)})", list(app_ids)


def pipelines_by_status(conn: sqlite3.Connection, app_ids: AppScope,
                        since: float | None = None) -> dict[str, int]:
    """Every status (zero included), counting pipelines created at or after `since`."""
    where, args = _scope(app_ids)
    if since is not None:
        where += " AND created_at >= ?"
        args.append(since)
    counts = dict.fromkeys(PIPELINE_STATUSES, 0)
    for status, n in conn.execute(
            f"SELECT status, COUNT(*) FROM pipelines WHERE {where} GROUP BY status", args):
        counts[status] = n
    return counts


def workers_by_state(conn: sqlite3.Connection, app_ids: AppScope, now: float,
                     offline_after: float) -> dict[str, int]:
    """Every state (zero included) by effective state: a live worker not seen for
    `offline_after` counts as offline."""
    where, args = _scope(app_ids)
    counts = dict.fromkeys(WORKER_STATES, 0)
    for state, n in conn.execute(
            "SELECT CASE WHEN state NOT IN ('offline', 'stopped') AND ? - last_seen > ?"
            " THEN 'offline' ELSE state END AS effective, COUNT(*)"
            f" FROM workers WHERE {where} GROUP BY effective", [now, offline_after, *args]):
        counts[state] = counts.get(state, 0) + n
    return counts


def in_flight_stages(conn: sqlite3.Connection, app_ids: AppScope) -> int:
    where, args = _scope(app_ids)
    # One count per status: each names its status literally, which its partial index needs.
    return sum(int(conn.execute(f"SELECT COUNT(*) FROM stages WHERE status = '{status}'"
                                f" AND {where}", args).fetchone()[0])
               for status in ("Pending", "Running"))


def stats_summary(conn: sqlite3.Connection, app_ids: Sequence[int], now: float, since: float,
                  offline_after: float) -> dict[str, Any]:
    """Pipelines by status (created in the range), throughput (stages completed per minute
    over the range), failure rate (Failed / finished pipelines, finished in the range; 0 when
    none finished), workers by effective state and in-flight stages (both current)."""
    where, args = _scope(app_ids)
    completed = int(conn.execute(
        f"SELECT COUNT(*) FROM stages WHERE {where} AND status = 'Completed'"
        " AND finished_at >= ? AND finished_at <= ?", [*args, since, now]).fetchone()[0])
    finished, failed = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'Failed' THEN 1 ELSE 0 END), 0)"
        f" FROM pipelines WHERE {where}"
        f" AND status IN ({marks(FINISHED_PIPELINE)}) AND finished_at >= ? AND finished_at <= ?",
        [*args, *FINISHED_PIPELINE, since, now]).fetchone()
    by_status = pipelines_by_status(conn, app_ids, since)
    minutes = max((now - since) / 60.0, 1e-9)
    return {
        "pipelinesByStatus": by_status,
        "pipelinesCreated": sum(by_status.values()),
        "stagesCompleted": completed,
        "throughputPerMinute": completed / minutes,
        "pipelinesFinished": int(finished),
        "pipelinesFailed": int(failed),
        "failureRate": int(failed) / int(finished) if finished else 0.0,
        "workersByState": workers_by_state(conn, app_ids, now, offline_after),
        "inFlightStages": in_flight_stages(conn, app_ids),
    }


def stats_executions(conn: sqlite3.Connection, app_ids: Sequence[int], start: float,
                     bucket: float, count: int) -> list[dict[str, Any]]:
    """`count` buckets of `bucket` seconds from `start`: pipelines created, and pipelines
    finished Completed / Failed, in each."""
    where, args = _scope(app_ids)
    end = start + bucket * count
    rows: list[dict[str, Any]] = [
        {"start": iso(start + i * bucket), "created": 0, "completed": 0, "failed": 0}
        for i in range(count)]

    def tally(field: str, column: str, extra: str = "", *extra_args: Any) -> None:
        for index, n in conn.execute(
                f"SELECT {int_floor(conn, f'({column} - ?) / ?')} AS b, COUNT(*) FROM pipelines"
                f" WHERE {where} AND {column} >= ? AND {column} < ?{extra} GROUP BY b",
                [start, bucket, *args, start, end, *extra_args]):
            if 0 <= index < count:
                rows[index][field] += n

    tally("created", "created_at")
    tally("completed", "finished_at", " AND status = ?", "Completed")
    tally("failed", "finished_at", " AND status = ?", "Failed")
    return rows


def metrics_gauges(conn: sqlite3.Connection, now: float, offline_after: float) -> dict[str, Any]:
    """What the Prometheus gauges show at scrape time, over every application."""
    return {
        "inFlightStages": in_flight_stages(conn, None),
        "workersByState": workers_by_state(conn, None, now, offline_after),
        "pipelinesByStatus": pipelines_by_status(conn, None),
        "queueDepthByHandler": {r[0]: int(r[1]) for r in conn.execute(
            "SELECT handler, COUNT(*) FROM stages WHERE status = 'Pending' GROUP BY handler"
            " ORDER BY 2 DESC LIMIT 200")},
    }
