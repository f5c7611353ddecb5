"""The command line: a bad setting stops the start naming the variable; migrate; create-user."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _cli(*args: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/cli.db", **env}
    return subprocess.run([sys.executable, "-m", "pipelogiq", *args], env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_bad_setting_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    r = _cli("serve", tmp=tmp_path, JOB_LEASE="soon")
    assert r.returncode == 2
    assert "JOB_LEASE" in r.stderr
    assert not (tmp_path / "cli.db").exists()  # nothing was started or created


def test_migrate_then_create_user(tmp_path: Path) -> None:
    r = _cli("migrate", tmp=tmp_path)
    assert r.returncode == 0 and "applied: 0001" in r.stdout, r.stderr
    assert "up to date" in _cli("migrate", tmp=tmp_path).stdout
    r = _cli("create-user", "ops@example.com", "--password", "long-enough-pw", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    again = _cli("create-user", "OPS@example.com", "--password", "long-enough-pw", tmp=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        rows = conn.execute("SELECT email, role, password_hash FROM users").fetchall()
    assert [(e, role) for e, role, _ in rows] == [("ops@example.com", "RegularUser")]
    assert rows[0][2].startswith("scrypt$") and "long-enough-pw" not in rows[0][2]


def test_version(tmp_path: Path) -> None:
    r = _cli("--version", tmp=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("pipelogiq ")
