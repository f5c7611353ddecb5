"""A `pipelogiq serve` subprocess for synchronous tests (the fuzzers), with an API key and a
worker session ready."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx

EMAIL, PASSWORD = "fuzz@example.com", "fuzz-password-1"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SyncServer:
    def __init__(self, db: Path) -> None:
        self.db = db
        pi, pe = _port(), _port()
        self.internal_url, self.external_url = f"http://127.0.0.1:{pi}", f"http://127.0.0.1:{pe}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}",
                    "HTTP_ADDR": f"127.0.0.1:{pi}", "EXTERNAL_HTTP_ADDR": f"127.0.0.1:{pe}",
                    "METRICS_ADDR": "127.0.0.1:0",
                    "PIPELOGIQ_ADMIN_EMAIL": EMAIL, "PIPELOGIQ_ADMIN_PASSWORD": PASSWORD,
                    "LOG_FORMAT": "json", "PULL_WAIT_MAX": "1s"}
        self.proc: subprocess.Popen[str] | None = None
        self.api_key = self.worker_session = self.cookie = ""

    def __enter__(self) -> SyncServer:
        self.proc = subprocess.Popen([sys.executable, "-m", "pipelogiq", "serve"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # blocks until the server says it serves
            if '"serving:' in line:
                break
        else:
            raise RuntimeError("the server exited before serving")
        threading.Thread(target=self._drain, daemon=True).start()
        with httpx.Client(base_url=self.internal_url) as c:
            c.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
            self.cookie = c.cookies["authKey"]
            r = c.post("/api/apikeys", json={"applicationId": 1, "name": "fuzz"})
            r.raise_for_status()
            self.api_key = r.json()["key"]
        r = httpx.post(f"{self.external_url}/workers/bootstrap", headers={"X-API-Key": self.api_key},
                       json={"workerName": "fuzz", "instanceId": "fuzz-1"})
        r.raise_for_status()
        self.worker_session = r.json()["workerSessionToken"]
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def row_counts(db: Path, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows per table, read without writing: what a rejected request must leave alone."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
