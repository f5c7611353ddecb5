"""Policies on SQLite (SPEC §6): CRUD, status changes and the versioned audit trail.

Every change is one transaction that updates the policy and appends its `policy_events` row
(actor, version after the change, a before/after diff). A deleted policy keeps its row with the
status `deleted` (a tombstone): `policy_events` references it, and the trail — including the
`deleted` event — stays readable at `/audit`; everything else treats it as gone.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import attrs

from pipelogiq import policies as pol
from pipelogiq.store.base import StoreError, iso
from pipelogiq.store.sqltx import contains, dumps, int_floor, json_text, marks, tx

if TYPE_CHECKING:
    from pipelogiq.store.policies_store import PolicyAccess, PolicyQuery

DELETED = "deleted"
DAY = 86400.0
TARGETS_LIMIT = 500

_SELECT = """
SELECT p.*,
  (SELECT COUNT(*) FROM policy_events e
     WHERE e.policy_id = p.id AND e.kind = 'triggered' AND e.created_at >= ?) AS triggers_24h,
  (SELECT MAX(e.created_at) FROM policy_events e
     WHERE e.policy_id = p.id AND e.kind = 'triggered') AS last_triggered_at,
  (SELECT e.actor FROM policy_events e
     WHERE e.policy_id = p.id AND e.kind <> 'triggered' ORDER BY e.id LIMIT 1) AS created_by,
  (SELECT e.actor FROM policy_events e
     WHERE e.policy_id = p.id AND e.kind <> 'triggered' ORDER BY e.id DESC LIMIT 1) AS updated_by
FROM policies p
"""
_ORDER = {"name": "LOWER(p.name)", "updatedAt": "p.updated_at", "type": "p.policy_type"}


def _policy_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"], "applicationId": row["application_id"], "name": row["name"],
        "type": row["policy_type"], "status": row["status"], "rule": json.loads(row["rules"]),
        "targeting": json.loads(row["targeting"]), "version": row["version"],
        "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
        "createdBy": row["created_by"], "updatedBy": row["updated_by"],
        "triggers24h": row["triggers_24h"], "lastTriggeredAt": iso(row["last_triggered_at"]),
    }


def _read(conn: sqlite3.Connection, policy_id: int, now: float) -> dict[str, Any]:
    row = conn.execute(_SELECT + " WHERE p.id = ?", (now - DAY, policy_id)).fetchone()
    return _policy_json(row)


def _load(conn: sqlite3.Connection, policy_id: int, access: PolicyAccess, *,
          write: bool = False, deleted_ok: bool = False) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM policies WHERE id = ?",
                                            (policy_id,)).fetchone()
    app = None if row is None else row["application_id"]
    if (row is None or (row["status"] == DELETED and not deleted_ok)
            or (app is not None and app not in access.application_ids)):
        raise StoreError(404, f"policy {policy_id} not found")
    if write and app is None and not access.admin:
        raise StoreError(403, "only an Admin can change a global policy")
    return row


def _draft(row: sqlite3.Row) -> pol.PolicyDraft:
    return pol.PolicyDraft(
        application_id=row["application_id"], name=row["name"], policy_type=row["policy_type"],
        rule=json.loads(row["rules"]), targeting=pol.parse_targeting(json.loads(row["targeting"])),
        status=row["status"])


def _event(conn: sqlite3.Connection, policy_id: int, now: float, kind: str, version: int,
           actor: str, details: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO policy_events (policy_id, created_at, kind, policy_version, actor, details)"
        " VALUES (?, ?, ?, ?, ?, ?)", (policy_id, now, kind, version, actor, dumps(details)))


def _insert(conn: sqlite3.Connection, d: pol.PolicyDraft, now: float) -> int:
    row = conn.execute(
        "INSERT INTO policies (application_id, name, policy_type, status, rules, targeting,"
        " version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
        (d.application_id, d.name, d.policy_type, d.status, dumps(d.rule),
         dumps(d.targeting.to_json()), now, now)).fetchone()
    return int(row[0])


# -- reads -----------------------------------------------------------------------------------

def list_policies(conn: sqlite3.Connection, q: PolicyQuery, now: float) -> dict[str, Any]:
    apps = list(q.application_ids)
    where = [f"p.status <> '{DELETED}'"]
    args: list[Any] = []
    scope = f"p.application_id IN ({marks(apps)})" if apps else "1 = 0"
    where.append(f"({scope} OR p.application_id IS NULL)" if q.include_global else scope)
    args += apps
    if q.search:
        escaped = q.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(contains("p.name"))
        args.append(f"%{escaped}%")
    if q.policy_type:
        where.append("p.policy_type = ?")
        args.append(q.policy_type)
    if q.status:
        where.append("p.status = ?")
        args.append(q.status)
    clause = " WHERE " + " AND ".join(where)
    total = conn.execute("SELECT COUNT(*) FROM policies p" + clause, args).fetchone()[0]
    direction = "DESC" if q.descending else "ASC"
    rows = conn.execute(
        _SELECT + clause + f" ORDER BY {_ORDER[q.sort_by]} {direction}, p.id {direction}"
        " LIMIT ? OFFSET ?",
        [now - DAY, *args, q.page_size, (q.page_number - 1) * q.page_size]).fetchall()
    return {"items": [_policy_json(r) for r in rows], "totalCount": total,
            "pageNumber": q.page_number, "pageSize": q.page_size}


def get_policy(conn: sqlite3.Connection, policy_id: int, access: PolicyAccess,
               now: float) -> dict[str, Any]:
    _load(conn, policy_id, access)
    return _read(conn, policy_id, now)


def _event_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "policyId": row["policy_id"], "kind": row["kind"],
            "version": row["policy_version"], "actor": row["actor"],
            "createdAt": iso(row["created_at"]),
            "details": json.loads(row["details"]) if row["details"] else None,
            **({"pipelineId": row["pipeline_id"], "stageId": row["stage_id"]}
               if row["kind"] == "triggered" else {})}


def audit(conn: sqlite3.Connection, policy_id: int, access: PolicyAccess, page_number: int,
          page_size: int, triggered: bool = False) -> dict[str, Any]:
    """The change trail, newest first; with `triggered`, every application of the policy too
    (pipeline, stage and what happened), which `insights` counts."""
    row = _load(conn, policy_id, access, deleted_ok=True)
    base = " FROM policy_events WHERE policy_id = ?" + ("" if triggered else
                                                        " AND kind <> 'triggered'")
    total = conn.execute("SELECT COUNT(*)" + base, (policy_id,)).fetchone()[0]
    rows = conn.execute("SELECT *" + base + " ORDER BY id DESC LIMIT ? OFFSET ?",
                        (policy_id, page_size, (page_number - 1) * page_size)).fetchall()
    return {"policyId": policy_id, "deleted": row["status"] == DELETED,
            "items": [_event_json(r) for r in rows], "totalCount": total,
            "pageNumber": page_number, "pageSize": page_size}


def insights(conn: sqlite3.Connection, policy_id: int, access: PolicyAccess, since: float,
             now: float, bucket: float) -> dict[str, Any]:
    """Trigger counts in `[since, now]`: per time bucket (every bucket listed, zeros too), by
    stage and by handler."""
    _load(conn, policy_id, access)
    first = math.floor(since / bucket) * bucket
    count = max(1, math.ceil((now - first) / bucket))
    counts = [0] * count
    cond = "e.policy_id = ? AND e.kind = 'triggered' AND e.created_at >= ? AND e.created_at <= ?"
    args = (policy_id, since, now)
    for b, n in conn.execute(
            f"SELECT {int_floor(conn, '(e.created_at - ?) / ?')} AS b, COUNT(*) FROM policy_events e"
            f" WHERE {cond} GROUP BY b", (first, bucket, *args)):
        counts[min(max(b, 0), count - 1)] += n

    def grouped(expr: str) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in conn.execute(
            f"SELECT COALESCE({expr}, '(unknown)') AS k, COUNT(*) AS n FROM policy_events e"
            f" LEFT JOIN stages s ON s.id = e.stage_id WHERE {cond}"
            " GROUP BY k ORDER BY n DESC, k LIMIT 50", args)]

    last = conn.execute("SELECT MAX(created_at) FROM policy_events WHERE policy_id = ?"
                        " AND kind = 'triggered'", (policy_id,)).fetchone()[0]
    return {
        "policyId": policy_id, "from": iso(since), "to": iso(now), "bucketSeconds": bucket,
        "total": sum(counts), "lastTriggeredAt": iso(last),
        "series": [{"start": iso(first + i * bucket), "count": n} for i, n in enumerate(counts)],
        "byStage": [{"stageName": k, "count": n} for k, n in
                    grouped(f"COALESCE(s.name, {json_text(conn, 'e.details', 'stageName')})")],
        "byHandler": [{"handler": k, "count": n} for k, n in
                      grouped(f"COALESCE(s.handler, {json_text(conn, 'e.details', 'handler')})")],
    }


def targets(conn: sqlite3.Connection, application_ids: Collection[int]) -> dict[str, Any]:
    """What can be targeted: names and values seen in these applications' pipelines."""
    apps = list(application_ids)
    if not apps:
        return {"pipelines": [], "stages": [], "handlers": [], "tags": [], "environments": ["all"]}
    m = marks(apps)

    def distinct(sql: str) -> list[str]:
        return [r[0] for r in conn.execute(sql + f" ORDER BY 1 LIMIT {TARGETS_LIMIT}", apps)]

    envs: dict[str, str] = {}
    for key, value in conn.execute(
            "SELECT DISTINCT c.key, c.value FROM context_items c JOIN pipelines p"
            f" ON p.id = c.pipeline_id WHERE p.application_id IN ({m})"
            " AND lower(c.key) IN ('environment', 'env') LIMIT 5000", apps):
        env = pol.environment_of({key: value})
        if env is not None and env.casefold() != pol.ENV_ALL:
            envs.setdefault(env.casefold(), env)
    return {
        "pipelines": distinct(f"SELECT DISTINCT name FROM pipelines WHERE application_id IN ({m})"),
        "stages": distinct(f"SELECT DISTINCT name FROM stages WHERE application_id IN ({m})"),
        "handlers": distinct(f"SELECT DISTINCT handler FROM stages WHERE application_id IN ({m})"),
        "tags": distinct("SELECT DISTINCT k.value FROM keywords k JOIN pipelines p"
                         f" ON p.id = k.pipeline_id WHERE p.application_id IN ({m})"
                         " AND k.value <> ''"),
        "environments": [pol.ENV_ALL, *sorted(envs.values(), key=str.casefold)],
    }


def recent_pipeline_facts(conn: sqlite3.Connection, application_ids: Collection[int],
                          limit: int) -> list[pol.PipelineFacts]:
    """The newest `limit` pipelines of these applications, with what targeting looks at."""
    apps = list(application_ids)
    if not apps:
        return []
    rows = conn.execute(
        f"SELECT id, name, application_id FROM pipelines WHERE application_id IN ({marks(apps)})"
        " ORDER BY created_at DESC, id DESC LIMIT ?", [*apps, limit]).fetchall()
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    m = marks(ids)
    stages: dict[int, list[pol.StageRef]] = {}
    for s in conn.execute(f"SELECT id, pipeline_id, name, handler FROM stages"
                          f" WHERE pipeline_id IN ({m}) ORDER BY pipeline_id, position", ids):
        stages.setdefault(s["pipeline_id"], []).append(pol.StageRef(s["id"], s["name"],
                                                                     s["handler"]))
    tags: dict[int, list[str]] = {}
    for pid, value in conn.execute(
            f"SELECT pipeline_id, value FROM keywords WHERE pipeline_id IN ({m})", ids):
        tags.setdefault(pid, []).append(value)
    context: dict[int, dict[str, str]] = {}
    for pid, key, value in conn.execute(
            f"SELECT pipeline_id, key, value FROM context_items WHERE pipeline_id IN ({m})"
            " AND lower(key) IN ('environment', 'env')", ids):
        context.setdefault(pid, {})[key] = value
    return [pol.PipelineFacts(r["id"], r["name"], r["application_id"],
                              pol.environment_of(context.get(r["id"], {})),
                              tuple(tags.get(r["id"], ())), tuple(stages.get(r["id"], ())))
            for r in rows]


# -- changes ---------------------------------------------------------------------------------

def create_policy(conn: sqlite3.Connection, draft: pol.PolicyDraft, actor: str,
                  now: float) -> dict[str, Any]:
    with tx(conn):
        pid = _insert(conn, draft, now)
        _event(conn, pid, now, "created", 1, actor, {"after": pol.snapshot(draft)})
        return _read(conn, pid, now)


def update_policy(conn: sqlite3.Connection, policy_id: int, draft: pol.PolicyDraft,
                  expected_version: int | None, actor: str, access: PolicyAccess,
                  now: float) -> dict[str, Any]:
    """Replace name, type, rule and targeting; the application and status stay (status has
    its own actions). An update that changes nothing keeps the version and writes no event."""
    with tx(conn):
        row = _load(conn, policy_id, access, write=True)
        version = row["version"]
        if expected_version is not None and expected_version != version:
            raise StoreError(409, f"policy was changed meanwhile (it is at version {version},"
                                  f" the update was for {expected_version}); reload it")
        old = _draft(row)
        new = attrs.evolve(draft, application_id=old.application_id, status=old.status)
        change = pol.diff(pol.snapshot(old), pol.snapshot(new))
        if change["after"]:
            conn.execute(
                "UPDATE policies SET name = ?, policy_type = ?, rules = ?, targeting = ?,"
                " version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                (new.name, new.policy_type, dumps(new.rule), dumps(new.targeting.to_json()),
                 now, policy_id, version))
            _event(conn, policy_id, now, "updated", version + 1, actor, change)
        return _read(conn, policy_id, now)


def set_status(conn: sqlite3.Connection, policy_id: int, action: str, actor: str,
               access: PolicyAccess, now: float) -> dict[str, Any]:
    with tx(conn):
        row = _load(conn, policy_id, access, write=True)
        try:
            step = pol.transition(action, row["status"])
        except pol.PolicyConflict as exc:
            raise StoreError(409, exc.message) from None
        conn.execute("UPDATE policies SET status = ?, version = version + 1, updated_at = ?"
                     " WHERE id = ? AND version = ?", (step.target, now, policy_id, row["version"]))
        _event(conn, policy_id, now, step.event, row["version"] + 1, actor,
               pol.diff({"status": row["status"]}, {"status": step.target}))
        return _read(conn, policy_id, now)


def duplicate_policy(conn: sqlite3.Connection, policy_id: int, actor: str, access: PolicyAccess,
                     now: float) -> dict[str, Any]:
    """A disabled copy in the same application, named `… (copy)`; its trail starts with a
    `duplicated` event naming the source and the source's version."""
    with tx(conn):
        row = _load(conn, policy_id, access, write=True)
        app = row["application_id"]
        same_app = "application_id IS NULL" if app is None else "application_id = ?"
        taken = [r[0] for r in conn.execute(
            f"SELECT name FROM policies WHERE {same_app} AND status <> ?",
            (DELETED,) if app is None else (app, DELETED))]
        source = _draft(row)
        copy = attrs.evolve(source, name=pol.copy_name(source.name, taken), status="disabled")
        pid = _insert(conn, copy, now)
        _event(conn, pid, now, "duplicated", 1, actor,
               {"sourcePolicyId": policy_id, "sourceVersion": row["version"],
                "after": pol.snapshot(copy)})
        return _read(conn, pid, now)


def delete_policy(conn: sqlite3.Connection, policy_id: int, actor: str, access: PolicyAccess,
                  now: float) -> None:
    with tx(conn):
        row = _load(conn, policy_id, access, write=True)
        conn.execute("UPDATE policies SET status = ?, updated_at = ? WHERE id = ?",
                     (DELETED, now, policy_id))
        _event(conn, policy_id, now, "deleted", row["version"], actor,
               {"before": pol.snapshot(_draft(row))})

