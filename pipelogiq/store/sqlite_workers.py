"""Worker registry on SQLite: bootstrap, sessions, heartbeats, events, liveness."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from pipelogiq.domain import WORKER_GONE
from pipelogiq.store.base import Principal, StoreError, iso
from pipelogiq.store.sqltx import dumps, tx


def _event(conn: sqlite3.Connection, worker_id: str, now: float, level: str, kind: str,
           message: str, details: Any = None) -> None:
    conn.execute(
        "INSERT INTO worker_events (worker_id, created_at, level, event_type, message, details)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (worker_id, now, level, kind, message, None if details is None else dumps(details)))


def bootstrap(
    conn: sqlite3.Connection, app_id: int, info: dict[str, Any], session_hash: str,
    session_ttl: float, now: float,
) -> str:
    """Register or re-register (same instance → same worker id, new session)."""
    with tx(conn):
        row = conn.execute(
            "SELECT id FROM workers WHERE application_id = ? AND instance_id = ?",
            (app_id, info["instanceId"])).fetchone()
        worker_id = row[0] if row else str(uuid.uuid4())
        values = (
            info["workerName"], info.get("workerVersion"), info.get("sdkVersion"),
            info.get("environment"), info.get("hostName"), info.get("pid"),
            dumps(info.get("supportedHandlers") or []), dumps(info.get("capabilities")),
            dumps(info.get("metadata")), session_hash, now + session_ttl, now, now,
        )
        if row:
            conn.execute(
                "UPDATE workers SET name = ?, version = ?, sdk_version = ?, environment = ?,"
                " host_name = ?, pid = ?, handlers = ?, capabilities = ?, metadata = ?,"
                " session_hash = ?, session_expires_at = ?, started_at = ?, last_seen = ?,"
                " state = 'starting', in_flight = 0 WHERE id = ?", (*values, worker_id))
        else:
            conn.execute(
                "INSERT INTO workers (name, version, sdk_version, environment, host_name, pid,"
                " handlers, capabilities, metadata, session_hash, session_expires_at, started_at,"
                " last_seen, state, id, application_id, instance_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'starting', ?, ?, ?)",
                (*values, worker_id, app_id, info["instanceId"]))
        _event(conn, worker_id, now, "Information", "started",
               f"worker {info['workerName']} bootstrapped", {"instanceId": info["instanceId"]})
        return str(worker_id)


def authenticate_session(conn: sqlite3.Connection, session_hash: str, now: float) -> Principal:
    row = conn.execute(
        "SELECT id, application_id, session_expires_at, state FROM workers WHERE session_hash = ?",
        (session_hash,)).fetchone()
    if row is None:
        raise StoreError(401, "invalid worker session")
    if row["session_expires_at"] <= now:
        raise StoreError(401, "worker session has expired")
    if row["state"] == "stopped":
        raise StoreError(401, "worker session has ended")
    return Principal(row["application_id"], row["id"])


def worker_app(conn: sqlite3.Connection, worker_id: str) -> int | None:
    row = conn.execute("SELECT application_id FROM workers WHERE id = ?", (worker_id,)).fetchone()
    return None if row is None else int(row[0])


def heartbeat(conn: sqlite3.Connection, worker_id: str, hb: dict[str, Any], now: float) -> str | None:
    """Record a heartbeat; returns the previous state when it changed."""
    with tx(conn):
        row = conn.execute("SELECT state FROM workers WHERE id = ?", (worker_id,)).fetchone()
        if row is None:
            raise StoreError(404, "unknown worker")
        if row["state"] == "stopped":  # a late heartbeat never revives a finished session
            raise StoreError(401, "worker session has ended")
        state = hb["state"]
        conn.execute(
            "UPDATE workers SET state = ?, last_seen = ?, in_flight = COALESCE(?, in_flight),"
            " processed = CASE WHEN ? > processed THEN ? ELSE processed END,"
            " failed = CASE WHEN ? > failed THEN ? ELSE failed END,"
            " last_error = COALESCE(?, last_error) WHERE id = ?",
            (state, now, hb.get("inFlightJobs"), *[hb.get("jobsProcessed")] * 2,
             *[hb.get("jobsFailed")] * 2, hb.get("lastError"), worker_id))
        conn.execute(
            "INSERT INTO worker_heartbeats (worker_id, created_at, state, in_flight, processed,"
            " failed, cpu_percent, memory_mb, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (worker_id, now, state, hb.get("inFlightJobs"), hb.get("jobsProcessed"),
             hb.get("jobsFailed"), hb.get("cpuPercent"), hb.get("memoryMb"),
             dumps({k: hb[k] for k in ("uptimeSec", "brokerConnected", "queueLag", "message",
                                       "metadata") if hb.get(k) is not None})))
        previous = str(row["state"])
        if previous != state:
            _event(conn, worker_id, now, "Information", "state_changed",
                   f"state {previous} -> {state}", {"from": previous, "to": state})
            return previous
        return None


def add_events(
    conn: sqlite3.Connection, worker_id: str, events: Sequence[dict[str, Any]], now: float
) -> int:
    with tx(conn):
        for e in events:
            _event(conn, worker_id, e.get("ts") or now, e.get("level") or "Information",
                   e["eventType"], e.get("message") or "", e.get("details"))
        conn.execute("UPDATE workers SET last_seen = ? WHERE id = ?", (now, worker_id))
        return len(events)


def set_gone(
    conn: sqlite3.Connection, worker_id: str, state: str, message: str, now: float,
    stale_before: float | None = None,
) -> bool:
    """Mark a worker stopped/offline. With `stale_before`, only if not seen since then."""
    with tx(conn):
        args: list[Any] = [state, worker_id]
        cond = ""
        if stale_before is not None:
            cond = " AND last_seen <= ?"
            args.append(stale_before)
        cur = conn.execute(
            "UPDATE workers SET state = ?, in_flight = 0"
            f" WHERE id = ? AND state NOT IN ('offline', 'stopped'){cond}", args)
        if cur.rowcount:
            kind = "stopped" if state == "stopped" else "heartbeat_lost"
            _event(conn, worker_id, now, "Warning" if state == "offline" else "Information",
                   kind, message)
        return cur.rowcount == 1


def last_seen(conn: sqlite3.Connection, worker_id: str) -> tuple[str, float] | None:
    row = conn.execute("SELECT state, last_seen FROM workers WHERE id = ?", (worker_id,)).fetchone()
    return None if row is None else (str(row[0]), float(row[1]))


def live_workers(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT id, last_seen FROM workers WHERE state NOT IN ('offline', 'stopped')")]


def list_workers(conn: sqlite3.Connection, app_ids: Sequence[int], now: float,
                 offline_after: float) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(app_ids)) or "NULL"
    rows = conn.execute(f"SELECT * FROM workers WHERE application_id IN ({marks})"
                        " ORDER BY last_seen DESC", list(app_ids)).fetchall()
    out = []
    for r in rows:
        effective = r["state"]
        if effective not in WORKER_GONE and now - r["last_seen"] > offline_after:
            effective = "offline"
        out.append({
            "id": r["id"], "applicationId": r["application_id"], "name": r["name"],
            "instanceId": r["instance_id"], "state": r["state"], "effectiveState": effective,
            "hostName": r["host_name"], "version": r["version"], "sdkVersion": r["sdk_version"],
            "handlers": json.loads(r["handlers"]), "lastSeen": iso(r["last_seen"]),
            "startedAt": iso(r["started_at"]), "inFlight": r["in_flight"],
            "processed": r["processed"], "failed": r["failed"],
        })
    return out
