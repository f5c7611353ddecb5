"""Forward-only SQL migrations: `migrations/NNNN_name.sql`, or `NNNN_name.<dialect>.sql`
where a dialect differs. Applied in order under a lock and recorded in `schema_migrations`."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import attrs

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")


@attrs.frozen
class Migration:
    version: str
    name: str
    sql: str

    def statements(self) -> list[str]:
        lines = [ln for ln in self.sql.splitlines() if not ln.strip().startswith("--")]
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    return packaged if packaged.is_dir() else MIGRATIONS_DIR


def load(dialect: str, directory: Path | None = None) -> list[Migration]:
    """Every migration for `dialect`, in order; a dialect file replaces the portable one."""
    chosen: dict[str, tuple[bool, Migration]] = {}
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file name not understood: {path.name}")
        version, name, file_dialect = m.groups()
        if file_dialect and file_dialect != dialect:
            continue
        specific = file_dialect is not None
        if version in chosen and chosen[version][0] and not specific:
            continue
        chosen[version] = (specific, Migration(version, name, path.read_text()))
    return [chosen[v][1] for v in sorted(chosen)]


def apply_sqlite(conn: sqlite3.Connection, now: float, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in one exclusive transaction; returns the versions applied."""
    conn.execute("BEGIN EXCLUSIVE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for mig in load("sqlite", directory):
            if mig.version in done:
                continue
            for stmt in mig.statements():
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (mig.version, mig.name, now),
            )
            applied.append(mig.version)
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise
