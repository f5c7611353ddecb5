"""Applications, their members and users on SQLite, for the internal API's admin routes.
Password hashes never leave this module."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

from pipelogiq.store.base import StoreError, iso
from pipelogiq.store.sqlite_admin import scoped_application
from pipelogiq.store.sqltx import tx


# -- applications --------------------------------------------------------------------------
def _counts(conn: sqlite3.Connection, app_id: int, now: float) -> dict[str, int]:
    def one(sql: str, *args: Any) -> int:
        return int(conn.execute(sql, (app_id, *args)).fetchone()[0])

    return {
        "pipelineCount": one("SELECT COUNT(*) FROM pipelines WHERE application_id = ?"),
        "workerCount": one("SELECT COUNT(*) FROM workers WHERE application_id = ?"),
        "activeKeyCount": one(
            "SELECT COUNT(*) FROM api_keys WHERE application_id = ? AND disabled_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > ?)", now),
        "memberCount": one("SELECT COUNT(*) FROM user_applications WHERE application_id = ?"),
        "policyCount": one("SELECT COUNT(*) FROM policies WHERE application_id = ?"),
    }


def _app_json(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "createdAt": iso(row["created_at"]), **_counts(conn, row["id"], now)}


def application_detail(conn: sqlite3.Connection, app_id: int, app_ids: Collection[int],
                       now: float) -> dict[str, Any]:
    return _app_json(conn, scoped_application(conn, app_id, app_ids), now)


def update_application(
    conn: sqlite3.Connection, app_id: int, name: str, description: str | None,
    app_ids: Collection[int], now: float,
) -> dict[str, Any]:
    """Rename and describe. `description` None keeps the current one; "" clears it."""
    with tx(conn):
        scoped_application(conn, app_id, app_ids)
        taken = conn.execute("SELECT 1 FROM applications WHERE name = ? AND id != ?",
                             (name, app_id)).fetchone()
        if taken:
            raise StoreError(409, f"an application named {name!r} exists")
        if description is None:
            conn.execute("UPDATE applications SET name = ? WHERE id = ?", (name, app_id))
        else:
            conn.execute("UPDATE applications SET name = ?, description = ? WHERE id = ?",
                         (name, description or None, app_id))
        return application_detail(conn, app_id, app_ids, now)


def delete_application(conn: sqlite3.Connection, app_id: int, now: float) -> None:
    """Only an application nothing runs in: no pipelines, workers, active keys or policies
    (409 naming what is left). Its disabled or expired keys, memberships and logs go too."""
    with tx(conn):
        row = conn.execute("SELECT * FROM applications WHERE id = ?", (app_id,)).fetchone()
        if row is None:
            raise StoreError(404, f"application {app_id} not found")
        counts = _counts(conn, app_id, now)
        left = [f"{counts[k]} {what}" for k, what in (
            ("pipelineCount", "pipeline(s)"), ("workerCount", "worker(s)"),
            ("activeKeyCount", "active API key(s)"), ("policyCount", "policy(ies)")) if counts[k]]
        if left:
            raise StoreError(409, f"application {row['name']!r} still has {', '.join(left)};"
                                  " delete or disable them first")
        for table in ("api_keys", "user_applications", "application_logs"):
            conn.execute(f"DELETE FROM {table} WHERE application_id = ?", (app_id,))
        conn.execute("DELETE FROM applications WHERE id = ?", (app_id,))


# -- members -------------------------------------------------------------------------------
def _member_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"userId": row["id"], "email": row["email"], "name": row["name"],
            "role": row["role"], "disabled": row["disabled_at"] is not None}


def application_members(conn: sqlite3.Connection, app_id: int,
                        app_ids: Collection[int]) -> list[dict[str, Any]]:
    scoped_application(conn, app_id, app_ids)
    rows = conn.execute(
        "SELECT u.* FROM users u JOIN user_applications m ON m.user_id = u.id"
        " WHERE m.application_id = ? ORDER BY u.email", (app_id,)).fetchall()
    return [_member_json(r) for r in rows]


def add_application_member(conn: sqlite3.Connection, app_id: int, user_id: int,
                           app_ids: Collection[int]) -> dict[str, Any]:
    with tx(conn):
        scoped_application(conn, app_id, app_ids)
        user = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if user is None:
            raise StoreError(404, f"user {user_id} not found")
        added = conn.execute(
            "INSERT INTO user_applications (user_id, application_id) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING", (user_id, app_id)).rowcount
        if not added:
            raise StoreError(409, f"user {user_id} is already a member of application {app_id}")
        return _member_json(user)


def remove_application_member(conn: sqlite3.Connection, app_id: int, user_id: int,
                              app_ids: Collection[int]) -> None:
    with tx(conn):
        scoped_application(conn, app_id, app_ids)
        gone = conn.execute(
            "DELETE FROM user_applications WHERE user_id = ? AND application_id = ?",
            (user_id, app_id)).rowcount
        if not gone:
            raise StoreError(404, f"user {user_id} is not a member of application {app_id}")


# -- users ---------------------------------------------------------------------------------
def _user_json(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    apps = [r[0] for r in conn.execute(
        "SELECT application_id FROM user_applications WHERE user_id = ? ORDER BY application_id",
        (row["id"],))]
    return {"id": row["id"], "email": row["email"], "name": row["name"], "role": row["role"],
            "createdAt": iso(row["created_at"]), "disabled": row["disabled_at"] is not None,
            "disabledAt": iso(row["disabled_at"]), "applicationIds": apps}


def _user(conn: sqlite3.Connection, user_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM users WHERE id = ?",
                                            (user_id,)).fetchone()
    if row is None:
        raise StoreError(404, f"user {user_id} not found")
    return row


def list_users(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [_user_json(conn, r) for r in conn.execute("SELECT * FROM users ORDER BY id")]


def user_public(conn: sqlite3.Connection, user_id: int) -> dict[str, Any]:
    return _user_json(conn, _user(conn, user_id))


def _other_active_admins(conn: sqlite3.Connection, user_id: int) -> int:
    return int(conn.execute(
        "SELECT COUNT(*) FROM users WHERE role = 'Admin' AND disabled_at IS NULL AND id != ?",
        (user_id,)).fetchone()[0])


def _keeps_an_admin(conn: sqlite3.Connection, row: sqlite3.Row) -> None:
    """Refuse a change that would leave no active Admin (nobody could manage users)."""
    if (row["role"] == "Admin" and row["disabled_at"] is None
            and _other_active_admins(conn, row["id"]) == 0):
        raise StoreError(409, f"{row['email']} is the last active Admin")


def set_user_role(conn: sqlite3.Connection, user_id: int, role: str) -> dict[str, Any]:
    with tx(conn):
        row = _user(conn, user_id)
        if role != "Admin":
            _keeps_an_admin(conn, row)
        conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
        return user_public(conn, user_id)


def set_user_disabled(conn: sqlite3.Connection, user_id: int, disabled: bool, acting_id: int,
                      now: float) -> dict[str, Any]:
    """Disable (idempotent: the first time is kept) or enable a user. Nobody disables
    themselves, and the last active Admin stays."""
    with tx(conn):
        row = _user(conn, user_id)
        if disabled:
            if user_id == acting_id:
                raise StoreError(409, "you cannot disable your own account")
            _keeps_an_admin(conn, row)
            conn.execute("UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?",
                         (now, user_id))
        else:
            conn.execute("UPDATE users SET disabled_at = NULL WHERE id = ?", (user_id,))
        return user_public(conn, user_id)


def set_user_password(conn: sqlite3.Connection, user_id: int, password_hash: str) -> None:
    with tx(conn):
        _user(conn, user_id)
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
