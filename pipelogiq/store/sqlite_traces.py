"""What the tracer reads (SQL shared by SQLite and PostgreSQL): finished pipelines as
`PipelineTrace` records, from which `pipelogiq.observability.tracing` builds the spans."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence

from pipelogiq.observability.tracing import Delivery, PipelineTrace, StageTrace
from pipelogiq.store.sqltx import marks

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def _parent(value: str, trace_id: str) -> str | None:
    """The creator's span from a `traceparent` context item of the same trace (the value may
    arrive JSON-quoted, as the .NET samples send it)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        text = loaded.strip() if isinstance(loaded, str) else text
    m = _TRACEPARENT.match(text.lower())
    if m is None or m.group(1) != trace_id.lower() or m.group(2) == "0" * 16:
        return None
    return m.group(2)


def pipeline_traces(conn: sqlite3.Connection, pipeline_ids: Sequence[int]) -> list[PipelineTrace]:
    """The pipelines of `pipeline_ids` that exist, with their stages, the stages' deliveries
    and first dispatch; five queries whatever the number of pipelines."""
    ids = list(pipeline_ids)
    if not ids:
        return []
    m = marks(ids)
    # The first dispatch: the control plane's first `Pending:` line (workers' log lines carry
    # times of their own clocks, so they are left out).
    first_seen = dict(conn.execute(
        f"SELECT stage_id, MIN(created_at) FROM stage_logs WHERE pipeline_id IN ({m})"
        " AND stage_id IS NOT NULL AND message LIKE 'Pending:%' GROUP BY stage_id",
        ids).fetchall())
    deliveries: dict[int, list[Delivery]] = {}
    for stage_id, attempt, at, worker in conn.execute(
            "SELECT l.stage_id, l.attempt, l.created_at, l.worker_id FROM job_leases l"
            f" JOIN stages s ON s.id = l.stage_id WHERE s.pipeline_id IN ({m})"
            " ORDER BY l.created_at", ids).fetchall():
        deliveries.setdefault(stage_id, []).append(Delivery(attempt, at, worker))
    stages: dict[int, list[StageTrace]] = {}
    for (sid, pid, name, handler, span_id, status, attempt, error_code, ready_at, started_at,
         attempt_started_at, finished_at) in conn.execute(
            "SELECT id, pipeline_id, name, handler, span_id, status, attempt, error_code,"
            " ready_at, started_at, attempt_started_at, finished_at"
            f" FROM stages WHERE pipeline_id IN ({m}) ORDER BY pipeline_id, position",
            ids).fetchall():
        stages.setdefault(pid, []).append(StageTrace(
            sid, name, handler, span_id, status, attempt, first_seen.get(sid), ready_at,
            started_at, attempt_started_at, finished_at, error_code,
            tuple(deliveries.get(sid, ()))))
    parents: dict[int, str] = {}
    for pid, value in conn.execute(
            f"SELECT pipeline_id, value FROM context_items WHERE pipeline_id IN ({m})"
            " AND lower(key) = 'traceparent'", ids).fetchall():
        parents[pid] = value
    out = []
    for pid, app, name, trace_id, status, created_at, finished_at in conn.execute(
            "SELECT id, application_id, name, trace_id, status, created_at, finished_at"
            f" FROM pipelines WHERE id IN ({m}) ORDER BY id", ids).fetchall():
        parent = _parent(parents[pid], trace_id) if pid in parents else None
        out.append(PipelineTrace(pid, app, name, trace_id, status, created_at, finished_at,
                                 parent, tuple(stages.get(pid, ()))))
    return out
