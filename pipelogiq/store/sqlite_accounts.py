"""Applications, API keys, users and shared settings on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

from pipelogiq.store.base import StoreError, iso
from pipelogiq.store.sqltx import tx


def get_or_set_setting(conn: sqlite3.Connection, key: str, candidate: str) -> str:
    """The stored value of `key`, storing `candidate` first if there is none (race-free)."""
    with tx(conn):
        conn.execute("INSERT INTO kv_settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                     (key, candidate))
        return str(conn.execute("SELECT value FROM kv_settings WHERE key = ?", (key,)).fetchone()[0])


def _app_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "createdAt": iso(row["created_at"])}


def create_application(
    conn: sqlite3.Connection, name: str, description: str | None, user_id: int | None, now: float
) -> dict[str, Any]:
    with tx(conn):
        if conn.execute("SELECT 1 FROM applications WHERE name = ?", (name,)).fetchone():
            raise StoreError(409, f"an application named {name!r} exists")
        row = conn.execute(
            "INSERT INTO applications (name, description, created_at) VALUES (?, ?, ?) RETURNING *",
            (name, description, now)).fetchone()
        if user_id is not None:
            conn.execute("INSERT INTO user_applications (user_id, application_id) VALUES (?, ?)",
                         (user_id, row["id"]))
        return _app_json(row)


def application_by_name(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM applications WHERE name = ?", (name,)).fetchone()
    return None if row is None else _app_json(row)


def count_applications(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM applications").fetchone()[0])


def list_applications(conn: sqlite3.Connection, app_ids: Collection[int]) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM applications ORDER BY id").fetchall()
    return [_app_json(r) for r in rows if r["id"] in app_ids]


def visible_application_ids(conn: sqlite3.Connection, user_id: int) -> list[int]:
    """Admins see every application; other users the ones they are members of."""
    user = conn.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
    if user is None:
        return []
    if user["role"] == "Admin":
        return [r[0] for r in conn.execute("SELECT id FROM applications")]
    return [r[0] for r in conn.execute(
        "SELECT application_id FROM user_applications WHERE user_id = ?", (user_id,))]


def _key_json(row: sqlite3.Row) -> dict[str, Any]:
    return {k: v for k, v in {
        "id": row["id"], "applicationId": row["application_id"], "name": row["name"],
        "prefix": row["prefix"], "createdAt": iso(row["created_at"]),
        "expiresAt": iso(row["expires_at"]), "disabledAt": iso(row["disabled_at"]),
        "lastUsedAt": iso(row["last_used_at"]), "isActive": row["disabled_at"] is None,
    }.items() if v is not None}


def create_api_key(
    conn: sqlite3.Connection, app_id: int, name: str, key_hash: str, prefix: str,
    expires_at: float | None, now: float,
) -> dict[str, Any]:
    with tx(conn):
        row = conn.execute(
            "INSERT INTO api_keys (application_id, name, key_hash, prefix, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (app_id, name, key_hash, prefix, now, expires_at)).fetchone()
        return _key_json(row)


def list_api_keys(conn: sqlite3.Connection, app_ids: Collection[int]) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM api_keys ORDER BY id").fetchall()
    return [_key_json(r) for r in rows if r["application_id"] in app_ids]


def disable_api_key(
    conn: sqlite3.Connection, key_id: int, app_ids: Collection[int], now: float
) -> dict[str, Any]:
    with tx(conn):
        row = conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        if row is None or row["application_id"] not in app_ids:
            raise StoreError(404, f"API key {key_id} not found")
        row = conn.execute(
            "UPDATE api_keys SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ? RETURNING *",
            (now, key_id)).fetchone()
        return _key_json(row)


def authenticate_key(conn: sqlite3.Connection, key_hash: str, now: float) -> int:
    """The application of a valid key; StoreError(401) for unknown, disabled or expired."""
    row = conn.execute(
        "SELECT id, application_id, expires_at, disabled_at, last_used_at FROM api_keys"
        " WHERE key_hash = ?", (key_hash,)).fetchone()
    if row is None:
        raise StoreError(401, "invalid API key")
    if row["disabled_at"] is not None:
        raise StoreError(401, "API key is disabled")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise StoreError(401, "API key has expired")
    if row["last_used_at"] is None or now - row["last_used_at"] > 60:
        conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, row["id"]))
    return int(row["application_id"])


def create_user(
    conn: sqlite3.Connection, email: str, name: str, role: str, password_hash: str, now: float
) -> int | None:
    """A new user id, or None when the email is taken."""
    with tx(conn):
        row = conn.execute(
            "INSERT INTO users (email, name, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING RETURNING id",
            (email.lower(), name, role, password_hash, now)).fetchone()
        return None if row is None else int(row[0])


def count_users(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])


def user_by_email(conn: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM users WHERE email = ?", (email.lower(),)).fetchone()
    return None if row is None else dict(row)


def user_by_id(conn: sqlite3.Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else dict(row)


def app_log(
    conn: sqlite3.Connection, app_id: int, level: str, message: str, created: float,
    keywords: str | None,
) -> None:
    with tx(conn):
        conn.execute(
            "INSERT INTO application_logs (application_id, created_at, level, message, keywords)"
            " VALUES (?, ?, ?, ?, ?)", (app_id, created, level, message, keywords))
