"""Observability on SQLite: integration configs, connection test results, traces and insights.

`integration_configs` holds one row per kind (`config` = the validated config, secrets in full)
and, under the kind `test:<kind>`, the last connection test result of that kind. A test result
names the config version (`configUpdatedAt`) it was made with, so a later change of the config
makes it stale rather than wrong; saving a changed config also drops it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from pipelogiq import integrations as intg
from pipelogiq.store.base import QueueBacklog, iso
from pipelogiq.store.sqltx import contains, dumps, int_floor, marks, tx

if TYPE_CHECKING:
    from pipelogiq.store.observability_store import TraceQuery

TEST_PREFIX = "test:"
HOUR = 3600.0
INSIGHT_ROWS = 100_000  # newest finished stages an insights request looks at
TOP = 10


# -- integration configs ---------------------------------------------------------------------

def states(conn: sqlite3.Connection) -> dict[str, intg.IntegrationState]:
    rows = {r["kind"]: r for r in conn.execute("SELECT * FROM integration_configs")}
    out = {}
    for kind in intg.KINDS:
        row, test = rows.get(kind), rows.get(TEST_PREFIX + kind)
        if row is None:
            out[kind] = intg.IntegrationState(kind)
            continue
        last = json.loads(test["config"]) if test is not None else None
        if last is not None and last.pop("configUpdatedAt", None) != row["updated_at"]:
            last = None
        out[kind] = intg.IntegrationState(kind, json.loads(row["config"]), row["updated_at"], last)
    return out


def save_config(conn: sqlite3.Connection, kind: str, raw: Any,
                now: float) -> intg.IntegrationState:
    with tx(conn):
        row = conn.execute("SELECT config FROM integration_configs WHERE kind = ?",
                           (kind,)).fetchone()
        stored = json.loads(row[0]) if row is not None else None
        config = intg.normalize(kind, raw, stored)
        if config != stored:
            conn.execute(
                "INSERT INTO integration_configs (kind, config, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (kind) DO UPDATE SET config = excluded.config,"
                " updated_at = excluded.updated_at", (kind, dumps(config), now))
            conn.execute("DELETE FROM integration_configs WHERE kind = ?", (TEST_PREFIX + kind,))
    return states(conn)[kind]


def record_test(conn: sqlite3.Connection, kind: str, result: dict[str, Any],
                config_updated_at: float | None, now: float) -> None:
    doc = {**result, "testedAt": iso(now), "configUpdatedAt": config_updated_at}
    with tx(conn):
        conn.execute(
            "INSERT INTO integration_configs (kind, config, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (kind) DO UPDATE SET config = excluded.config,"
            " updated_at = excluded.updated_at", (TEST_PREFIX + kind, dumps(doc), now))


def link_templates(conn: sqlite3.Connection) -> dict[str, str]:
    row = conn.execute("SELECT config FROM integration_configs WHERE kind = 'logs'").fetchone()
    config = json.loads(row[0]) if row is not None else {}
    return {k: v for k, v in config.items() if k.endswith("LinkTemplate") and v}


def queue_backlog(conn: sqlite3.Connection, min_depth: int,
                  pending_before: float) -> list[QueueBacklog]:
    """Handler queues with at least `min_depth` stages `Pending`, or one `Pending` since
    before `pending_before` (a queue nobody drains)."""
    rows = conn.execute(
        "SELECT application_id, handler, COUNT(*) AS depth, MIN(pending_since) AS oldest"
        " FROM stages WHERE status = 'Pending' GROUP BY application_id, handler"
        " HAVING COUNT(*) >= ? OR MIN(pending_since) <= ?"
        " ORDER BY application_id, handler LIMIT 100", (min_depth, pending_before)).fetchall()
    return [QueueBacklog(r["application_id"], r["handler"], r["depth"], r["oldest"])
            for r in rows]


# -- traces ----------------------------------------------------------------------------------

def list_traces(conn: sqlite3.Connection, q: TraceQuery, now: float) -> dict[str, Any]:
    """Pipelines (newest first) with their trace id, duration and span (stage) count."""
    apps = list(q.application_ids)
    page = {"pageNumber": q.page_number, "pageSize": q.page_size}
    if not apps:
        return {"items": [], "totalCount": 0, **page}
    where = [f"p.application_id IN ({marks(apps)})"]
    args: list[Any] = list(apps)
    if q.search:
        escaped = q.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(f"({contains('p.name')} OR p.trace_id = ?)")
        args += [f"%{escaped}%", q.search.lower()]
    if q.status:
        where.append("p.status = ?")
        args.append(q.status)
    clause = " WHERE " + " AND ".join(where)
    total = conn.execute("SELECT COUNT(*) FROM pipelines p" + clause, args).fetchone()[0]
    rows = conn.execute(
        "SELECT p.*, (SELECT COUNT(*) FROM stages s WHERE s.pipeline_id = p.id) AS spans"
        " FROM pipelines p" + clause + " ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?",
        [*args, q.page_size, (q.page_number - 1) * q.page_size]).fetchall()
    items = []
    for r in rows:
        begin = r["started_at"] if r["started_at"] is not None else r["created_at"]
        end = r["finished_at"] if r["finished_at"] is not None else now
        items.append({
            "pipelineId": r["id"], "executionId": r["id"], "name": r["name"],
            "applicationId": r["application_id"], "traceId": r["trace_id"],
            "status": r["status"], "createdAt": iso(r["created_at"]),
            "finishedAt": iso(r["finished_at"]), "durationMs": max(0, round((end - begin) * 1000)),
            "spansCount": r["spans"],
        })
    return {"items": items, "totalCount": total, **page}


# -- insights --------------------------------------------------------------------------------

def _percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list."""
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


def _slowest(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["begin"] is not None:
            groups.setdefault((r["name"], r["handler"]), []).append(
                max(0.0, (r["finished_at"] - r["begin"]) * 1000))
    out: list[dict[str, Any]] = []
    for (name, handler), values in groups.items():
        values.sort()
        out.append({"stageName": name, "handler": handler, "count": len(values),
                    "avgMs": round(sum(values) / len(values)),
                    "p50Ms": round(_percentile(values, 0.5)),
                    "p95Ms": round(_percentile(values, 0.95)), "maxMs": round(values[-1])})
    out.sort(key=lambda d: (-d["p95Ms"], d["stageName"], d["handler"]))
    return out[:TOP]


def _hotspots(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    totals: dict[str, int] = {}
    failed: dict[str, list[str | None]] = {}
    for r in rows:
        totals[r["handler"]] = totals.get(r["handler"], 0) + 1
        if r["status"] == "Failed":
            failed.setdefault(r["handler"], []).append(r["error_code"])
    out: list[dict[str, Any]] = []
    for handler, codes in failed.items():
        known = [c for c in codes if c]
        top = max(set(known), key=lambda c: (known.count(c), c)) if known else None
        out.append({"handler": handler, "failed": len(codes), "total": totals[handler],
                    "failureRate": round(len(codes) / totals[handler], 4),
                    "topErrorCode": top})
    out.sort(key=lambda d: (-d["failed"], d["handler"]))
    return out[:TOP]


def _throughput(conn: sqlite3.Connection, apps: list[int], since: float,
                now: float) -> list[dict[str, Any]]:
    first = math.floor(since / HOUR) * HOUR
    hours = [{"hour": iso(first + i * HOUR), "started": 0, "completed": 0, "failed": 0}
             for i in range(max(1, math.ceil((now - first) / HOUR)))]
    m = marks(apps)
    queries = (
        ("started", "created_at", ""),
        ("completed", "finished_at", " AND status = 'Completed'"),
        ("failed", "finished_at", " AND status = 'Failed'"),
    )
    for key, column, extra in queries:
        for b, n in conn.execute(
                f"SELECT {int_floor(conn, f'({column} - ?) / ?')} AS b, COUNT(*) FROM pipelines"
                f" WHERE application_id IN ({m}) AND {column} >= ? AND {column} <= ?{extra}"
                " GROUP BY b", [first, HOUR, *apps, since, now]):
            hours[min(max(b, 0), len(hours) - 1)][key] += n
    return hours


def insights(conn: sqlite3.Connection, application_ids: Collection[int], since: float,
             now: float) -> dict[str, Any]:
    """Slowest stages by p95 duration (finish − start of the last attempt), error hotspots
    (failed stages by handler) and pipeline throughput per hour, over `[since, now]`."""
    apps = list(application_ids)
    rows: list[sqlite3.Row] = []
    if apps:
        rows = conn.execute(
            "SELECT name, handler, status, error_code, finished_at,"
            " COALESCE(attempt_started_at, started_at) AS begin FROM stages"
            f" WHERE application_id IN ({marks(apps)}) AND finished_at >= ? AND finished_at <= ?"
            " AND status IN ('Completed', 'Failed') ORDER BY finished_at DESC LIMIT ?",
            [*apps, since, now, INSIGHT_ROWS]).fetchall()
    throughput = _throughput(conn, apps, since, now) if apps else []
    done = sum(h["completed"] for h in throughput)
    bad = sum(h["failed"] for h in throughput)
    return {
        "from": iso(since), "to": iso(now),
        "slowestStages": _slowest(rows), "errorHotspots": _hotspots(rows),
        "throughput": throughput,
        "summary": {"stagesFinished": len(rows),
                    "stagesFailed": sum(1 for r in rows if r["status"] == "Failed"),
                    "pipelinesStarted": sum(h["started"] for h in throughput),
                    "pipelinesCompleted": done, "pipelinesFailed": bad,
                    "successRate": round(done / (done + bad), 4) if done + bad else None},
    }
