"""Read-only views of the internal API on SQLite: keyword filters, application logs, and a
worker's detail, events and heartbeats. Everything is scoped to `app_ids`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from pipelogiq.domain import WORKER_GONE
from pipelogiq.store.base import iso
from pipelogiq.store.sqlite_admin import scoped_worker
from pipelogiq.store.sqltx import contains, like, marks

MAX_VALUES_PER_KEY = 200  # a filter drop-down, not an export


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def keyword_values(conn: sqlite3.Connection, app_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each keyword key with its distinct values (at most MAX_VALUES_PER_KEY, flagged
    `truncated` beyond), over the pipelines of `app_ids`."""
    rows = conn.execute(
        "SELECT DISTINCT k.key, k.value FROM keywords k JOIN pipelines p ON p.id = k.pipeline_id"
        f" WHERE p.application_id IN ({marks(app_ids)}) ORDER BY k.key, k.value",
        list(app_ids)).fetchall()
    out: list[dict[str, Any]] = []
    for key, value in rows:
        if not out or out[-1]["key"] != key:
            out.append({"key": key, "values": []})
        entry = out[-1]
        if len(entry["values"]) < MAX_VALUES_PER_KEY:
            entry["values"].append(value)
        else:
            entry["truncated"] = True
    return out


def handler_pairs(conn: sqlite3.Connection, limit: int) -> list[tuple[int, str]]:
    """Every distinct (application, handler) that stages have named, deployment-wide: the
    handler queues that may exist (for the dead-letter view). At most `limit`, ordered."""
    rows = conn.execute("SELECT DISTINCT application_id, handler FROM stages"
                        " ORDER BY application_id, handler LIMIT ?", (limit,)).fetchall()
    return [(int(app_id), str(handler)) for app_id, handler in rows]


def application_logs(
    conn: sqlite3.Connection, app_ids: Sequence[int], page: int, size: int,
    levels: Sequence[str], search: str | None,
) -> dict[str, Any]:
    """One page of application logs, newest first (id breaks ties: a stable order)."""
    where = [f"application_id IN ({marks(app_ids)})"]
    args: list[Any] = list(app_ids)
    if levels:
        where.append(f"level IN ({marks(levels)})")
        args += list(levels)
    if search:
        where.append(f"({contains('message')} OR {contains('keywords')})")
        args += [like(search)] * 2
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM application_logs WHERE {clause}",
                         args).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM application_logs WHERE {clause} ORDER BY created_at DESC, id DESC"
        " LIMIT ? OFFSET ?", [*args, size, (page - 1) * size]).fetchall()
    items = [{k: v for k, v in {
        "id": r["id"], "applicationId": r["application_id"], "created": iso(r["created_at"]),
        "logLevel": r["level"], "message": r["message"], "keywords": _loads(r["keywords"]),
    }.items() if v is not None} for r in rows]
    return {"items": items, "totalCount": total, "pageNumber": page, "pageSize": size}


def effective_state(state: str, last_seen: float, now: float, offline_after: float) -> str:
    """What the dashboard shows: a live state not refreshed for `offline_after` is offline
    (`last_seen` in the database is the truth for liveness, SPEC §2)."""
    if state not in WORKER_GONE and now - last_seen > offline_after:
        return "offline"
    return state


def worker_detail(conn: sqlite3.Connection, worker_id: str, app_ids: Collection[int],
                  now: float, offline_after: float) -> dict[str, Any]:
    r = scoped_worker(conn, worker_id, app_ids)
    doc = {
        "id": r["id"], "applicationId": r["application_id"], "name": r["name"],
        "instanceId": r["instance_id"], "state": r["state"],
        "effectiveState": effective_state(r["state"], r["last_seen"], now, offline_after),
        "hostName": r["host_name"], "pid": r["pid"], "environment": r["environment"],
        "version": r["version"], "sdkVersion": r["sdk_version"],
        "handlers": json.loads(r["handlers"]), "capabilities": _loads(r["capabilities"]),
        "metadata": _loads(r["metadata"]), "lastSeen": iso(r["last_seen"]),
        "startedAt": iso(r["started_at"]), "sessionExpiresAt": iso(r["session_expires_at"]),
        "inFlight": r["in_flight"], "processed": r["processed"], "failed": r["failed"],
        "lastError": r["last_error"],
    }
    return {k: v for k, v in doc.items() if v is not None}


def worker_events(conn: sqlite3.Connection, worker_id: str, app_ids: Collection[int],
                  limit: int) -> list[dict[str, Any]]:
    """The latest `limit` events, newest first."""
    scoped_worker(conn, worker_id, app_ids)
    rows = conn.execute(
        "SELECT * FROM worker_events WHERE worker_id = ? ORDER BY created_at DESC, id DESC"
        " LIMIT ?", (worker_id, limit)).fetchall()
    return [{k: v for k, v in {
        "id": r["id"], "workerId": worker_id, "created": iso(r["created_at"]),
        "level": r["level"], "eventType": r["event_type"], "message": r["message"],
        "details": _loads(r["details"]),
    }.items() if v is not None} for r in rows]


def worker_heartbeats(conn: sqlite3.Connection, worker_id: str, app_ids: Collection[int],
                      limit: int) -> list[dict[str, Any]]:
    """The latest `limit` heartbeats, newest first."""
    scoped_worker(conn, worker_id, app_ids)
    rows = conn.execute(
        "SELECT * FROM worker_heartbeats WHERE worker_id = ? ORDER BY created_at DESC, id DESC"
        " LIMIT ?", (worker_id, limit)).fetchall()
    return [{k: v for k, v in {
        "id": r["id"], "workerId": worker_id, "created": iso(r["created_at"]),
        "state": r["state"], "inFlight": r["in_flight"], "processed": r["processed"],
        "failed": r["failed"], "cpuPercent": r["cpu_percent"], "memoryMb": r["memory_mb"],
        "details": _loads(r["details"]),
    }.items() if v is not None} for r in rows]
