"""Retention on SQLite: finished pipelines and their rows, old heartbeats and worker events."""

from __future__ import annotations

import sqlite3

from pipelogiq.store.sqltx import tx

BATCH = 500  # pipelines per transaction, so a large purge never holds the writer long


def purge(conn: sqlite3.Connection, cutoff: float) -> int:
    """Delete what finished before `cutoff`; returns how many pipelines went."""
    with tx(conn):
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM pipelines WHERE finished_at IS NOT NULL AND finished_at < ?"
            " AND status IN ('Completed', 'Failed', 'Cancelled') LIMIT ?", (cutoff, BATCH))]
        if ids:
            marks = ",".join("?" * len(ids))
            conn.execute(f"DELETE FROM job_leases WHERE stage_id IN"
                         f" (SELECT id FROM stages WHERE pipeline_id IN ({marks}))", ids)
            for table in ("stage_logs", "context_items", "keywords", "stages"):
                conn.execute(f"DELETE FROM {table} WHERE pipeline_id IN ({marks})", ids)
            conn.execute(f"DELETE FROM pipelines WHERE id IN ({marks})", ids)
        conn.execute("DELETE FROM worker_heartbeats WHERE created_at < ?", (cutoff,))
        conn.execute("DELETE FROM worker_events WHERE created_at < ?", (cutoff,))
        conn.execute("DELETE FROM application_logs WHERE created_at < ?", (cutoff,))
        # Policy applications age out; the policies' change trail is kept.
        conn.execute("DELETE FROM policy_events WHERE kind = 'triggered' AND created_at < ?",
                     (cutoff,))
        return len(ids)
