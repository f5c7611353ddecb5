"""Fresh databases on the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust auth) for
tests: each test gets its own, dropped afterwards, so nothing leaks between tests or agents."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
_PSQL = ["psql", "-h", HOST, "-p", str(PORT), "-U", USER, "-d", "test", "-v", "ON_ERROR_STOP=1",
         "-Atqc"]


def psql(sql: str) -> str:
    return subprocess.run([*_PSQL, sql], capture_output=True, text=True, check=True).stdout


def available() -> bool:
    if shutil.which("psql") is None:
        return False
    try:
        return psql("SELECT 1").strip() == "1"
    except subprocess.CalledProcessError:
        return False


def url(name: str) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


def create() -> str:
    """The URL of a new, empty database."""
    name = f"pq_{uuid.uuid4().hex[:16]}"
    psql(f"CREATE DATABASE {name}")
    return url(name)


def drop(database_url: str) -> None:
    """Drop it, closing whatever connections it still has."""
    psql(f"DROP DATABASE IF EXISTS {database_url.rsplit('/', 1)[1]} WITH (FORCE)")


@contextmanager
def fresh_database() -> Iterator[str]:
    """Yields the URL of a new, empty database; drops it after."""
    database_url = create()
    try:
        yield database_url
    finally:
        drop(database_url)
