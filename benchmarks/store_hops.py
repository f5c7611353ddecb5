"""Stage hops at the store level: dispatch + lease + ack, no HTTP, no broker.

Measures what one engine's store costs per hop on SQLite or PostgreSQL: the latency of one
hop done sequentially, and hops/s with N concurrent tasks each walking its own pipelines.
PostgreSQL runs on a scratch database made (and dropped) on the given server.

    python -m benchmarks.store_hops --db sqlite
    python -m benchmarks.store_hops --db postgres --concurrency 8 --pool-size 4
    python -m benchmarks.store_hops --db postgres --policies   # a retry and a rate-limit policy act
    python -m benchmarks.store_hops --db postgres --host /var/run/postgresql   # unix socket

Retries (transactions that lost a race and ran again) are counted from the store's log;
round trips to PostgreSQL by wrapping the facade. On a shared, noisy machine the wall-clock
figures move with the load: round trips and this process's CPU time per hop move much less.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.clock import SystemClock
from pipelogiq.domain import Job, JobResult, NewPipeline, NewStage
from pipelogiq.policies import PolicyDraft, parse_targeting, validate_rule
from pipelogiq.store.postgres import PostgresStore
from pipelogiq.store.sqlite import SqliteStore, SqlStore

PG_USER = "postgres"


class _RoundTrips:
    """Counts the facade's server calls (each statement, BEGIN and COMMIT is one)."""

    def __init__(self) -> None:
        self.count = 0
        from pipelogiq.store import pg_bridge

        original = pg_bridge.PgConnection._guard

        async def counted(conn: Any, sql: str, call: Any) -> Any:
            self.count += 1
            return await original(conn, sql, call)

        pg_bridge.PgConnection._guard = counted  # type: ignore[method-assign]


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "lost a race" in record.getMessage():
            self.count += 1


def _psql(server: tuple[str, int], sql: str) -> None:
    host, port = server
    subprocess.run(["psql", "-h", host, "-p", str(port), "-U", PG_USER, "-d", "postgres",
                    "-v", "ON_ERROR_STOP=1", "-Atqc", sql], check=True, capture_output=True)


def _dsn(server: tuple[str, int], name: str) -> str:
    host, port = server
    if host.startswith("/"):  # a unix socket's directory
        return f"postgresql://{PG_USER}@/{name}?host={host}&port={port}"
    return f"postgresql://{PG_USER}@{host}:{port}/{name}"


@asynccontextmanager
async def open_store(db: str, server: tuple[str, int], pool_size: int,
                     sync_commit: bool = True) -> AsyncIterator[SqlStore]:
    clock = SystemClock()
    if db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(str(Path(tmp) / "bench.db"), clock) as lite:
                await lite.migrate()
                yield lite
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    _psql(server, f"CREATE DATABASE {name}")
    if not sync_commit:  # diagnosis only: what is left once commits stop waiting for fsync
        _psql(server, f"ALTER DATABASE {name} SET synchronous_commit = off")
    try:
        async with Sidecar() as sidecar, PostgresStore(_dsn(server, name), clock, sidecar,
                                                       pool_size=pool_size) as pg:
            await pg.migrate()
            yield pg
    finally:
        _psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _pipelines(store: SqlStore, app: int, count: int, stages: int) -> list[list[int]]:
    out = []
    for i in range(count):
        pid, _ = await store.create_pipeline(NewPipeline(
            app, f"p{i}", tuple(NewStage(f"s{j}", "h", input="x") for j in range(stages)),
            context=(("env", "bench", "string"),)))
        _, states = await store.stage_states(pid)
        out.append([s.id for s in states])
    return out


async def _hop(store: SqlStore, app: int, sid: int) -> None:
    job = await store.dispatch(sid, "ready")
    assert isinstance(job, Job), job
    (d,) = await store.lease([job], "q", None, 30)
    out = await store.ack(app, d.token, JobResult(output="ok"))
    assert out.kind == "applied", out


async def _policies(store: SqlStore, app: int) -> None:
    everywhere = parse_targeting({})
    for kind, rule in (
        ("retry", {"maxAttempts": 3, "backoff": "fixed", "baseDelayMs": 100}),
        # Never binding: a burst of 10^9 over an hour. Every dispatch still reads, locks and
        # moves the one bucket all tasks share.
        ("rate_limit", {"limit": 1_000_000_000, "windowSeconds": 3600, "keyBy": "handler"}),
    ):
        await store.create_policy(
            PolicyDraft(app, kind, kind, validate_rule(kind, rule), everywhere), "bench")


async def run(db: str, server: tuple[str, int], hops: int, concurrency: int, per_task: int, stages: int,
              pool_size: int, policies: bool, sync_commit: bool = True) -> dict[str, Any]:
    retries, trips = _Retries(), _RoundTrips()
    logging.getLogger("pipelogiq.store").addHandler(retries)
    logging.getLogger("pipelogiq.store").setLevel(logging.DEBUG)
    async with open_store(db, server, pool_size, sync_commit) as store:
        app = int((await store.create_application("bench", None, None))["id"])
        if policies:
            await _policies(store, app)
        seq = [sid for p in await _pipelines(store, app, max(1, hops // stages), stages)
               for sid in p]
        for sid in seq[:10]:  # warm up: connections, prepared statements
            await _hop(store, app, sid)
        latencies = []
        trips.count, cpu = 0, time.process_time()
        for sid in seq[10:]:
            t = time.perf_counter()
            await _hop(store, app, sid)
            latencies.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu
        seq_retries, retries.count = retries.count, 0
        seq_trips = trips.count / max(1, len(latencies))

        work = [await _pipelines(store, app, per_task, stages) for _ in range(concurrency)]

        async def walk(pipelines: list[list[int]]) -> None:
            for p in pipelines:
                for sid in p:
                    await _hop(store, app, sid)

        t, cpu_conc = time.perf_counter(), time.process_time()
        async with trio.open_nursery() as nursery:
            for mine in work:
                nursery.start_soon(walk, mine)
        elapsed = time.perf_counter() - t
        cpu_conc = time.process_time() - cpu_conc
        done = concurrency * per_task * stages
    ms = sorted(x * 1000 for x in latencies)
    return {
        "db": db, "pool_size": pool_size if db == "postgres" else 1, "policies": policies,
        "synchronous_commit": sync_commit, "server": None if db == "sqlite" else server[0],
        "sequential": {"hops": len(ms), "mean_ms": round(statistics.fmean(ms), 2),
                       "p50_ms": round(ms[len(ms) // 2], 2),
                       "p95_ms": round(ms[int(len(ms) * 0.95)], 2), "retries": seq_retries,
                       "round_trips_per_hop": round(seq_trips, 1) if db == "postgres" else None,
                       "client_cpu_ms_per_hop": round(cpu * 1000 / len(ms), 2)},
        "concurrent": {"tasks": concurrency, "hops": done,
                       "hops_per_s": round(done / elapsed, 1), "retries": retries.count,
                       "client_cpu_ms_per_hop": round(cpu_conc * 1000 / done, 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--host", default="127.0.0.1",
                    help="PostgreSQL host, or a unix socket's directory")
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--hops", type=int, default=300, help="sequential hops timed")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--per-task", type=int, default=20, help="pipelines per concurrent task")
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--pool-size", type=int, default=4)
    ap.add_argument("--policies", action="store_true",
                    help="an active retry policy and a (never binding) rate limit")
    ap.add_argument("--no-sync-commit", action="store_true",
                    help="diagnosis: the scratch database commits without waiting for fsync")
    a = ap.parse_args()
    print(json.dumps(trio.run(run, a.db, (a.host, a.port), a.hops, a.concurrency, a.per_task, a.stages,
                              a.pool_size, a.policies, not a.no_sync_commit)))


if __name__ == "__main__":
    main()
