"""Both dialects of the migrations give the same tables, columns, nullability and indexes:
SQLite through the store, PostgreSQL (the machine's server) through psql in a fresh schema."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from pipelogiq.store import migrate

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1",
        "-Atq"]

Schema = dict[str, list[tuple[str, bool]]]


def _sqlite_schema(tmp_path: Path) -> tuple[Schema, set[str]]:
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    migrate.apply_sqlite(conn, 0.0)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    schema = {t: [(c[1], bool(c[3]) or bool(c[5]))
                  for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    indexes = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    conn.close()
    return schema, indexes


def _psql(sql: str) -> list[list[str]]:
    out = subprocess.run([*PSQL, "-c", sql], capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _postgres_schema() -> tuple[Schema, set[str]]:
    ns = f"schema_test_{uuid.uuid4().hex[:12]}"
    ddl = ";\n".join(s for m in migrate.load("postgres") for s in m.statements())
    script = (f"CREATE SCHEMA {ns}; SET search_path TO {ns};\n{ddl};\n"
              "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL,"
              " applied_at DOUBLE PRECISION NOT NULL);")
    subprocess.run([*PSQL], input=script, capture_output=True, text=True, check=True)
    try:
        rows = _psql(f"SELECT table_name, column_name, is_nullable FROM"
                     f" information_schema.columns WHERE table_schema = '{ns}'"
                     f" ORDER BY table_name, ordinal_position")
        schema: Schema = {}
        for table, column, nullable in rows:
            schema.setdefault(table, []).append((column, nullable == "NO"))
        indexes = {r[0] for r in _psql(  # those backing a constraint (PRIMARY KEY, UNIQUE) aside
            f"SELECT indexname FROM pg_indexes WHERE schemaname = '{ns}' AND indexname NOT IN"
            f" (SELECT c.conname FROM pg_constraint c JOIN pg_namespace n"
            f" ON n.oid = c.connamespace WHERE n.nspname = '{ns}')")}
        return schema, indexes
    finally:
        _psql(f"DROP SCHEMA {ns} CASCADE")


@pytest.mark.skipif(shutil.which("psql") is None, reason="needs the PostgreSQL client")
def test_sqlite_and_postgres_schemas_match(tmp_path: Path) -> None:
    lite, lite_indexes = _sqlite_schema(tmp_path)
    pg, pg_indexes = _postgres_schema()
    assert sorted(lite) == sorted(pg)
    for table in lite:
        assert lite[table] == pg[table], table
    assert lite_indexes == pg_indexes


def test_the_lease_table_keeps_its_rows_when_it_is_rebuilt_without_rowid(tmp_path: Path) -> None:
    """Migration 0006 rebuilds `job_leases` on SQLite: leases granted before it still answer
    by token, and the table is one b-tree (no index of its primary key beside it)."""
    before = tmp_path / "before"
    before.mkdir()
    for m in sorted(migrate.MIGRATIONS_DIR.glob("000[1-5]_*.sql")):
        (before / m.name).write_text(m.read_text())
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    assert migrate.apply_sqlite(conn, 0.0, before)[-1] == "0005"
    conn.execute("INSERT INTO applications (id, name, created_at) VALUES (1, 'a', 0)")
    conn.execute("INSERT INTO pipelines (id, application_id, name, trace_id, status, created_at,"
                 " updated_at) VALUES (1, 1, 'p', 't', 'Running', 0, 0)")
    conn.execute("INSERT INTO stages (id, pipeline_id, application_id, position, name, handler,"
                 " status, span_id, options, created_at) VALUES (7, 1, 1, 0, 's', 'h',"
                 " 'Running', 'x', '{}', 0)")
    conn.execute("INSERT INTO job_leases VALUES ('digest-1', 7, 1, 1, 'w', 0, 'active')")
    assert migrate.apply_sqlite(conn, 0.0)[0] == "0006"
    assert conn.execute("SELECT stage_id, state FROM job_leases WHERE token = 'digest-1'"
                        ).fetchone() == (7, "active")
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'job_leases'").fetchone()[0]
    assert "WITHOUT ROWID" in sql
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'job_leases'"
                        " AND name LIKE 'sqlite_autoindex%'").fetchone()[0] == 0
    with pytest.raises(sqlite3.IntegrityError):  # still a key, still tied to its stage
        conn.execute("INSERT INTO job_leases VALUES ('digest-2', 99, 1, 1, 'w', 0, 'active')")
    conn.close()
