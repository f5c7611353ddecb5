"""Reading pipelines on SQLite: the pipeline JSON of SPEC §4.1, lists, and job payloads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from pipelogiq.store.base import iso


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def context_items(conn: sqlite3.Connection, pipeline_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT key, value, value_type FROM context_items WHERE pipeline_id = ? ORDER BY key",
        (pipeline_id,),
    ).fetchall()
    return [{"key": r[0], "value": r[1], "valueType": r[2]} for r in rows]


def context_items_of(conn: sqlite3.Connection,
                     pipeline_ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """`context_items` of several pipelines in one query."""
    out: dict[int, list[dict[str, Any]]] = {}
    if pipeline_ids:
        ids = sorted(pipeline_ids)
        for r in conn.execute(
                "SELECT pipeline_id, key, value, value_type FROM context_items"
                f" WHERE pipeline_id IN ({','.join('?' * len(ids))}) ORDER BY pipeline_id, key",
                ids):
            out.setdefault(r[0], []).append({"key": r[1], "value": r[2], "valueType": r[3]})
    return out


def stage_next(conn: sqlite3.Connection, stage: sqlite3.Row,
               context: list[dict[str, Any]] | None = None,
               ) -> tuple[dict[str, Any], dict[str, str]]:
    """The StageNext payload (SPEC §4.2) and headers of a job, with current context (read
    here unless given). The stage row may carry its pipeline's `trace_id` (one query less)."""
    if "trace_id" in stage.keys():
        trace_id = stage["trace_id"]
    else:
        trace_id = conn.execute(
            "SELECT trace_id FROM pipelines WHERE id = ?", (stage["pipeline_id"],)
        ).fetchone()[0]
    traceparent = f"00-{trace_id}-{stage['span_id']}-01"
    options = json.loads(stage["options"])
    payload = _drop_empty({
        "appId": stage["application_id"],
        "stageId": stage["id"],
        "pipelineId": stage["pipeline_id"],
        "executionId": stage["pipeline_id"],
        "traceId": trace_id,
        "spanId": stage["span_id"],
        "traceparent": traceparent,
        "stageHandlerName": stage["handler"],
        "stageName": stage["name"],
        "input": stage["input"],
        "contextItems": (context_items(conn, stage["pipeline_id"]) if context is None
                         else context),
        "attempt": stage["attempt"],
        "timeoutSeconds": options.get("timeOut"),
        "runAsUser": options.get("runAsUser"),
    })
    return payload, {"traceparent": traceparent}


def _stage_json(row: Any, next_id: int | None,
                logs: list[dict[str, Any]] | None) -> dict[str, Any]:
    return _drop_empty({
        "id": row["id"],
        "pipelineId": row["pipeline_id"],
        "spanId": row["span_id"],
        "name": row["name"],
        "stageHandlerName": row["handler"],
        "description": row["description"],
        "status": row["status"],
        "createdAt": iso(row["created_at"]),
        "startedAt": iso(row["started_at"]),
        "finishedAt": iso(row["finished_at"]),
        "input": row["input"],
        "output": row["output"],
        "errorCode": row["error_code"],
        "isSkipped": row["status"] == "Skipped" or None,
        "isEvent": bool(row["is_event"]),
        "nextStageId": next_id,
        "attempt": row["attempt"],
        "nextRetryAt": iso(row["next_retry_at"]),
        "waitReason": row["wait_reason"],
        "options": json.loads(row["options"]),
        "logs": logs,
    })


def _logs_by_stage(conn: sqlite3.Connection, pipeline_id: int) -> dict[int | None, list[dict[str, Any]]]:
    out: dict[int | None, list[dict[str, Any]]] = {}
    for r in conn.execute(
        "SELECT stage_id, created_at, level, message FROM stage_logs WHERE pipeline_id = ?"
        " ORDER BY id", (pipeline_id,)
    ):
        out.setdefault(r[0], []).append(
            {"created": iso(r[1]), "logLevel": r[2], "message": r[3]})
    return out


def pipeline_json(
    conn: sqlite3.Connection, pipeline_id: int, *, with_logs: bool = False
) -> dict[str, Any] | None:
    p = conn.execute("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
    if p is None:
        return None
    return pipelines_json(conn, [p], with_logs=with_logs)[0]


def pipelines_json(
    conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], *, with_logs: bool = False
) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids))
    stages: dict[int, list[sqlite3.Row]] = {}
    for s in conn.execute(
        f"SELECT * FROM stages WHERE pipeline_id IN ({marks}) ORDER BY pipeline_id, position", ids
    ):
        stages.setdefault(s["pipeline_id"], []).append(s)
    keywords: dict[int, list[dict[str, str]]] = {}
    for k in conn.execute(
        f"SELECT pipeline_id, key, value FROM keywords WHERE pipeline_id IN ({marks})", ids
    ):
        keywords.setdefault(k[0], []).append({"key": k[1], "value": k[2]})
    return [pipeline_doc(p, stages.get(p["id"], []), context_items(conn, p["id"]),
                         keywords.get(p["id"], []),
                         _logs_by_stage(conn, p["id"]) if with_logs else None)
            for p in rows]


def pipeline_doc(p: Any, own: Sequence[Any],
                 context: list[dict[str, Any]], keywords: list[dict[str, str]],
                 logs: dict[int | None, list[dict[str, Any]]] | None) -> dict[str, Any]:
    """The pipeline JSON (SPEC §4.1) of a pipeline row and its stage rows (or mappings with
    the same columns), in order; `logs` by stage id (None for the pipeline's own), or None
    to leave them out."""
    stage_docs = [
        _stage_json(s, own[i + 1]["id"] if i + 1 < len(own) else None,
                    logs.get(s["id"], []) if logs is not None else None)
        for i, s in enumerate(own)
    ]
    return _drop_empty({
        "id": p["id"],
        "name": p["name"],
        "traceId": p["trace_id"],
        "status": p["status"],
        "createdAt": iso(p["created_at"]),
        "startedAt": iso(p["started_at"]),
        "finishedAt": iso(p["finished_at"]),
        "applicationId": p["application_id"],
        "stageStatuses": [s["status"] for s in own],
        "stages": stage_docs,
        "pipelineContextItems": context or None,
        "pipelineKeywords": keywords or None,
        "pipelineLogs": logs.get(None) if logs is not None else None,
        "isEvent": bool(p["is_event"]),
    })
