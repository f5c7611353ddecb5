"""Scratch service instances for fault tests that stop or restart a service (DESIGN.md item 12):
a RabbitMQ node with its own name, ports, data directory and config, and a PostgreSQL cluster
made by `initdb` in a temporary directory, both on free ports. The shared services on 5672 and
5432 are never touched: every command names the scratch node or data directory explicitly."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import trio

from serverproc import free_port

START_BOUND = 60.0


def service_dir(owner: str) -> Path:
    """A fresh directory the service's own user can reach (pytest's `tmp_path` is private to
    root); remove it with `shutil.rmtree` when done."""
    base = Path(tempfile.mkdtemp(prefix="plq-scratch-"))
    base.chmod(0o755)
    subprocess.run(["chown", f"{owner}:", str(base)], check=True)
    return base


def rabbit_available() -> bool:
    return shutil.which("rabbitmq-server") is not None and os.geteuid() == 0


def postgres_bin() -> Path | None:
    """The directory of `initdb` and `pg_ctl` (Debian keeps them off PATH)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def postgres_available() -> bool:
    return postgres_bin() is not None and os.geteuid() == 0 and shutil.which("runuser") is not None


class ScratchRabbit:
    """A RabbitMQ node of its own. `stop()` is a clean broker shutdown (durable queues and
    persistent messages survive it); `start()` again brings the same node and data back."""

    def __init__(self) -> None:
        self.base = base = service_dir("rabbitmq")
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"scratch{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        for sub in ("mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        # its own config: the machine's names the shared node's listener
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        subprocess.run(["chown", "-R", "rabbitmq:", str(base)], check=True)
        self.env = {**os.environ, "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(self.dist_port),
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                    "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(base / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf")}

    async def _ctl(self, *args: str, check: bool = True) -> int:
        done = await trio.run_process(["rabbitmqctl", "-q", "-n", self.node, *args],
                                      env=self.env, capture_stdout=True, capture_stderr=True,
                                      check=check)
        return done.returncode

    async def start(self) -> None:
        await trio.run_process(["rabbitmq-server", "-detached"], env=self.env,
                               capture_stdout=True, capture_stderr=True)
        with trio.fail_after(START_BOUND):
            # await_startup fails until the node has registered with epmd: there is nothing
            # to wait on before that but asking again
            while await self._ctl("await_startup", "--timeout", "5", check=False) != 0:  # noqa: ASYNC110
                await trio.sleep(0.5)

    async def stop(self) -> None:
        with trio.CancelScope(shield=True):
            await self._ctl("stop", check=False)

    def remove(self) -> None:
        """After the last `stop()`: its data directory goes."""
        shutil.rmtree(self.base, ignore_errors=True)


class ScratchPostgres:
    """A PostgreSQL cluster of its own (trust auth, user `postgres`) on a free port."""

    def __init__(self) -> None:
        bindir = postgres_bin()
        assert bindir is not None
        self.bindir = bindir
        self.base = service_dir("postgres")
        self.data = self.base / "pgdata"
        self.port = free_port()
        self._as_postgres(str(bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @staticmethod
    def _as_postgres(*cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True,
                       capture_output=True)

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", *args)

    async def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        await trio.to_thread.run_sync(self._pg_ctl, "-o", opts, "-l",
                                      str(self.data / "server.log"), "start")

    async def stop(self) -> None:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._pg_ctl, "-m", "fast", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        subprocess.run(["psql", self.url(), "-v", "ON_ERROR_STOP=1", "-Atqc",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.url(name)
