"""A `pipelogiq serve` subprocess for tests that kill and restart the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import trio

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """Runs the real CLI; `start()` returns once the server logs that it serves."""

    def __init__(self, db: Path, **env: str) -> None:
        self.internal_port, self.external_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{db}",
            "HTTP_ADDR": f"127.0.0.1:{self.internal_port}",
            "EXTERNAL_HTTP_ADDR": f"127.0.0.1:{self.external_port}",
            "METRICS_ADDR": "127.0.0.1:0",
            "PIPELOGIQ_ADMIN_EMAIL": ADMIN_EMAIL,
            "PIPELOGIQ_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JWT_SECRET": "crash-test-secret-" + "y" * 32,
            "LOG_FORMAT": "json",
            **env,
        }
        self.proc: trio.Process | None = None
        self.log: list[str] = []

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def external_url(self) -> str:
        return f"http://127.0.0.1:{self.external_port}"

    async def start(self, nursery: trio.Nursery) -> None:
        self.proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "pipelogiq", "serve"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ready = trio.Event()
        nursery.start_soon(self._read_log, ready)
        with trio.fail_after(30):
            await ready.wait()

    async def _read_log(self, ready: trio.Event) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        buf = b""
        async for chunk in self.proc.stderr:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                self.log.append(text)
                try:
                    msg = json.loads(text).get("msg", "")
                except ValueError:
                    msg = text
                if msg.startswith("serving:"):
                    ready.set()

    def kill_if_running(self) -> None:
        """Teardown: never leave a server behind, whatever the test did."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            return await self.proc.wait()
