"""A local cluster for trying out (and testing) distributed mode: API and engine replicas of
`pipelogiq` as separate processes on this machine, against the local PostgreSQL and RabbitMQ.

    python -m pipelogiq.devcluster            # what `invoke cluster` runs; Ctrl-C stops all

Unless given a `DATABASE_URL` and `RABBIT_NAME_PREFIX`, it makes a fresh database (with
`psql`) and a fresh prefix, and removes both when it stops. A developer tool: it shells out to
`psql` and `rabbitmqctl`, which a deployment never needs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Literal

import attrs
import httpx
import trio

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
START_BOUND = 60.0  # seconds a replica may take to serve
STOP_BOUND = 20.0  # seconds replicas get to drain after SIGTERM before SIGKILL

Role = Literal["api", "engine"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _psql(server: str, sql: str) -> None:
    subprocess.run(["psql", f"{server}/postgres", "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                   check=True, capture_output=True, text=True)


def _serving(line: str) -> bool:
    """The line a replica logs once it serves (a JSON line, or a console one)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return " pipelogiq: serving: " in line
    return isinstance(doc, dict) and str(doc.get("msg", "")).startswith("serving:")


@attrs.define(eq=False)
class Replica:
    """One process of the cluster; the URLs are empty where its role serves nothing."""

    name: str
    role: Role
    env: dict[str, str]
    internal_url: str = ""
    external_url: str = ""
    metrics_url: str = ""
    proc: trio.Process | None = None
    log: list[str] = attrs.field(factory=list)
    serving: trio.Event = attrs.field(factory=trio.Event)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()


class LocalCluster:
    """`apis` API and `engines` engine replicas. Use `start(nursery)` then `stop()`, or
    `async with cluster.running():`."""

    def __init__(self, *, apis: int = 2, engines: int = 2, database_url: str | None = None,
                 rabbitmq_url: str = DEFAULT_RABBIT, prefix: str | None = None,
                 env: Mapping[str, str] | None = None, base_port: int | None = None,
                 echo: Callable[[str, str], None] | None = None) -> None:
        self.own_database = database_url is None
        self.database_url = database_url or f"{DEFAULT_PG}/plq_cluster_{uuid.uuid4().hex[:10]}"
        self.own_prefix = prefix is None
        self.prefix = f"c{uuid.uuid4().hex[:8]}." if prefix is None else prefix
        self.rabbitmq_url = rabbitmq_url
        self.admin_email = os.environ.get("PIPELOGIQ_ADMIN_EMAIL") or "admin@example.com"
        self.admin_password = (os.environ.get("PIPELOGIQ_ADMIN_PASSWORD")
                               or secrets.token_urlsafe(12))
        self._echo = echo
        self.env = dict(env or {})

        def port(offset: int) -> int:
            return free_port() if base_port is None else base_port + offset
        base = {**os.environ, **(env or {}), "DATABASE_URL": self.database_url,
                "RABBITMQ_URL": rabbitmq_url, "RABBIT_NAME_PREFIX": self.prefix,
                "PIPELOGIQ_ADMIN_EMAIL": self.admin_email,
                "PIPELOGIQ_ADMIN_PASSWORD": self.admin_password,
                "LOG_FORMAT": (env or {}).get("LOG_FORMAT", "json")}
        self.replicas: list[Replica] = []
        self.killed: set[str] = set()  # replicas SIGKILLed on purpose (fault tests)
        for i in range(engines):  # with base_port 8080: metrics on 9090, 9091, …
            r = Replica(f"engine-{i + 1}", "engine", dict(base))
            pm = port(1010 + i)
            r.env["METRICS_ADDR"] = f"127.0.0.1:{pm}"
            r.metrics_url = f"http://127.0.0.1:{pm}"
            self.replicas.append(r)
        for i in range(apis):  # with base_port 8080: 8080 and 8081, 8090 and 8091, …
            r = Replica(f"api-{i + 1}", "api", dict(base))
            pi, pe = port(10 * i), port(10 * i + 1)
            r.env.update(HTTP_ADDR=f"127.0.0.1:{pi}", EXTERNAL_HTTP_ADDR=f"127.0.0.1:{pe}")
            r.internal_url, r.external_url = f"http://127.0.0.1:{pi}", f"http://127.0.0.1:{pe}"
            self.replicas.append(r)

    @property
    def apis(self) -> list[Replica]:
        return [r for r in self.replicas if r.role == "api"]

    @property
    def engines(self) -> list[Replica]:
        return [r for r in self.replicas if r.role == "engine"]

    async def start(self, nursery: trio.Nursery) -> None:
        """Create the database (if it is ours), then start every replica and return once each
        serves: the first one alone (it migrates the database and creates the first admin),
        the others together. If one does not start, everything is stopped and removed."""
        if self.own_database:
            name = self.database_url.rsplit("/", 1)[1]
            await trio.to_thread.run_sync(_psql, DEFAULT_PG, f"CREATE DATABASE {name}")
        first, *rest = self.replicas
        try:
            await self.start_replica(first, nursery)
            async with trio.open_nursery() as starting:
                for replica in rest:
                    starting.start_soon(self.start_replica, replica, nursery)
        except BaseException:  # never leave replicas (own sessions) or the database behind
            with trio.CancelScope(shield=True):
                await self.stop()
            raise

    async def start_replica(self, replica: Replica, nursery: trio.Nursery) -> None:
        """(Re)start one replica and wait until it serves."""
        replica.serving = trio.Event()
        replica.proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "pipelogiq", replica.role], env=replica.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)  # a terminal's Ctrl-C reaches only us: we stop them
        nursery.start_soon(self._read_log, replica, replica.proc)
        with trio.fail_after(START_BOUND):
            async with trio.open_nursery() as race:
                async def logged() -> None:
                    await replica.serving.wait()
                    race.cancel_scope.cancel()

                race.start_soon(logged)
                race.start_soon(self._poll_ready, replica, race.cancel_scope)

    @staticmethod
    async def _poll_ready(replica: Replica, done: trio.CancelScope) -> None:
        """Readiness when the replica logs below INFO (no "serving:" line to wait for)."""
        url = (f"{replica.metrics_url}/readyz" if replica.role == "engine"
               else f"{replica.internal_url}/readyz")
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                try:
                    if (await client.get(url)).status_code == 200:
                        done.cancel()
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.2)

    async def _read_log(self, replica: Replica, proc: trio.Process) -> None:
        assert proc.stderr is not None
        buf = b""
        async for chunk in proc.stderr:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                replica.log.append(line)
                if self._echo is not None:
                    self._echo(replica.name, line)
                if _serving(line):
                    replica.serving.set()

    async def kill(self, replica: Replica) -> None:
        """SIGKILL a replica (a crash, for fault tests) and wait until it is gone."""
        self.killed.add(replica.name)
        replica.kill()
        if replica.proc is not None:
            await replica.proc.wait()

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM every replica, wait (bounded), SIGKILL what is left; then drop what was
        created for this cluster. Returns each replica's exit code."""
        for r in self.replicas:
            if r.running:
                assert r.proc is not None
                r.proc.send_signal(signal.SIGTERM)
        with trio.move_on_after(STOP_BOUND):
            for r in self.replicas:
                if r.proc is not None:
                    await r.proc.wait()
        codes = {}
        for r in self.replicas:
            r.kill()
            codes[r.name] = None if r.proc is None else await r.proc.wait()
        await self.cleanup()
        return codes

    async def cleanup(self) -> None:
        """Drop the fresh database and delete the fresh prefix's queues and exchange."""
        with trio.CancelScope(shield=True):
            if self.own_database:
                name = self.database_url.rsplit("/", 1)[1]
                await trio.to_thread.run_sync(
                    _psql, DEFAULT_PG, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if self.own_prefix:
                with trio.move_on_after(30):
                    await self._delete_prefix()

    async def _delete_prefix(self) -> None:
        from pipelogiq.bridge.sidecar import Sidecar
        from pipelogiq.broker.rabbit_topology import RabbitConfig
        from pipelogiq.broker.rabbitmq import RabbitBroker

        listing = await trio.run_process(
            ["rabbitmqctl", "-q", "list_queues", "name", "--no-table-headers"],
            capture_stdout=True, capture_stderr=True, check=False)
        queues = [n for n in bytes(listing.stdout).decode().split()
                  if n.startswith(self.prefix)]
        dlq = self.env.get("RABBIT_DLQ_ENABLED", "").strip().lower() in ("1", "true", "yes", "on")
        config = RabbitConfig(url=self.rabbitmq_url, prefix=self.prefix, dlq_enabled=dlq,
                              connection_name=f"devcluster cleanup {self.prefix}")
        async with Sidecar("devcluster-cleanup") as sidecar, trio.open_nursery() as nursery:
            broker = RabbitBroker(sidecar, config)
            await nursery.start(broker.run)
            for queue in {*queues, config.stage_result, config.stage_set_status}:
                await broker.delete_queue(queue)
            await broker.delete_exchange(config.updates_exchange)
            nursery.cancel_scope.cancel()


async def _main(args: argparse.Namespace) -> None:
    def echo(name: str, line: str) -> None:
        if not args.quiet:
            print(f"[{name}] {line}", flush=True)

    cluster = LocalCluster(apis=args.apis, engines=args.engines,
                           database_url=os.environ.get("DATABASE_URL"),
                           rabbitmq_url=os.environ.get("RABBITMQ_URL") or DEFAULT_RABBIT,
                           prefix=os.environ.get("RABBIT_NAME_PREFIX"),
                           base_port=args.base_port or None,
                           env={"LOG_FORMAT": "console"}, echo=echo)
    async with trio.open_nursery() as nursery:
        try:
            await cluster.start(nursery)
            print("\nPipelogiq cluster is up:", flush=True)
            print(f"  database  {cluster.database_url}\n  prefix    {cluster.prefix}")
            for r in cluster.replicas:
                urls = (f"dashboard/API {r.internal_url}  external API {r.external_url}"
                        if r.role == "api" else f"metrics {r.metrics_url}/metrics")
                print(f"  {r.name:<9} {urls}")
            print(f"  login     {cluster.admin_email} / {cluster.admin_password}")
            print("Ctrl-C stops every replica.\n", flush=True)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
        finally:
            with trio.CancelScope(shield=True):
                print("stopping the cluster…", flush=True)
                codes = await cluster.stop()
                print(f"stopped: {codes}", flush=True)
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pipelogiq.devcluster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apis", type=int, default=2)
    p.add_argument("--engines", type=int, default=2)
    p.add_argument("--base-port", type=int, default=8080,
                   help="API i listens on base+10(i-1) and the next port, engine i's metrics "
                        "on base+1010+(i-1); 0: free ports")
    p.add_argument("--quiet", action="store_true", help="do not echo the replicas' logs")
    trio.run(_main, p.parse_args(argv))


if __name__ == "__main__":
    main()
