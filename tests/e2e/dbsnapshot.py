"""A read-only snapshot of every table of the server's SQLite file, for asserting that a
rejected request changed nothing: `assert snapshot(db) == before`.

The snapshot is taken through a separate connection opened with `mode=ro`, so the test can
never write by accident and never shares the server's connection or its transactions. The
server runs SQLite in WAL mode, so a reader sees the last committed state without blocking it.

One column is left out: `api_keys.last_used_at`. Authenticating an API key stamps it (at most
once a minute, `sqlite_accounts.authenticate_key`) *before* the route validates the body, so a
request that is authenticated and then rejected for a bad body may legitimately move it. That
is bookkeeping of the credential, not an effect of the rejected request; every other column of
every table is compared.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

#: (table, column) pairs excluded from the snapshot, with the reason in the module docstring.
EXCLUDED_COLUMNS = frozenset({("api_keys", "last_used_at")})


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[int, str], ...]:
    """Rows mix NULLs, numbers and text: order them by (type, repr) so sorting never fails."""
    return tuple((0, "") if v is None else (1, repr(v)) for v in row)


def snapshot(db_path: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table (SQLite's own `sqlite_%` tables aside) → its rows, sorted."""
    uri = f"{Path(db_path).resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name")]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            kept = [c for c in columns if (table, c) not in EXCLUDED_COLUMNS]
            select = ", ".join(f'"{c}"' for c in kept)
            rows = [tuple(r) for r in conn.execute(f'SELECT {select} FROM "{table}"')]
            out[table] = sorted(rows, key=_sort_key)
        return out
    finally:
        conn.close()


def query(db_path: str | Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """One read-only query, for a test that checks what a request stored."""
    conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()
