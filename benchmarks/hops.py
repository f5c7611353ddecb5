"""Stage hops per second and dispatch delay with one SDK worker, embedded mode.

The server runs as its own process (`pipelogiq serve`, SQLite file in a temp dir), the SDK
worker in this one, over real HTTP on loopback. Figures come from the database afterwards:
dispatch delay = stage delivered − stage ready (the previous stage finished, or the pipeline
was created, for the first stage).

    python -m benchmarks.hops --pipelines 300 --stages 3 --concurrency 8          # throughput
    python -m benchmarks.hops --pipelines 200 --stages 3 --concurrency 8 --rate 20  # latency
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

from pipelogiq.sdk import AsyncClient, AsyncWorker, Job, Stage

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _start_server(db: Path) -> tuple[trio.Process, str, str]:
    pi, pe = _port(), _port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "HTTP_ADDR": f"127.0.0.1:{pi}",
           "EXTERNAL_HTTP_ADDR": f"127.0.0.1:{pe}", "METRICS_ADDR": "127.0.0.1:0",
           "PIPELOGIQ_ADMIN_EMAIL": EMAIL,
           "PIPELOGIQ_ADMIN_PASSWORD": PASSWORD, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "pipelogiq", "serve"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    internal = f"http://127.0.0.1:{pi}"
    async with httpx.AsyncClient(base_url=internal) as c:
        with trio.fail_after(30):
            while True:  # a separate process: readiness is only observable by asking
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await trio.sleep(0.05)
    return proc, internal, f"http://127.0.0.1:{pe}"


async def _api_key(internal: str) -> str:
    async with httpx.AsyncClient(base_url=internal) as c:
        r = await c.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        r.raise_for_status()
        r = await c.post("/api/apikeys", json={"applicationId": 1, "name": "bench"})
        r.raise_for_status()
        return str(r.json()["key"])


def _delays(db: Path) -> list[float]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT s.pipeline_id, s.position, s.attempt_started_at, s.finished_at, p.created_at"
            " FROM stages s JOIN pipelines p ON p.id = s.pipeline_id"
            " ORDER BY s.pipeline_id, s.position").fetchall()
    delays, prev_finished = [], {}
    for pid, pos, delivered, finished, created in rows:
        ready = created if pos == 0 else prev_finished[pid]
        delays.append(delivered - ready)
        prev_finished[pid] = finished
    return delays


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def chain_worker(external: str, key: str, stages: int, concurrency: int, total: int,
                 transport: httpx.AsyncBaseTransport | None = None,
                 ) -> tuple[AsyncWorker, trio.Event]:
    """One SDK worker with a trivial handler per stage (`bench.s0`, ...); the event is set
    once it has run `total` jobs."""
    done = trio.Event()
    hops = 0
    worker = AsyncWorker(external, key, "bench", concurrency=concurrency,
                         wait_seconds=5, extend_leases=False, transport=transport)

    async def step(job: Job) -> str:
        nonlocal hops
        hops += 1
        if hops >= total:
            done.set()
        return "ok"

    for n in range(stages):
        worker.add_handler(f"bench.s{n}", step)
    return worker, done


# Creation requests in flight. The application side of the workload, like Celery's client
# sending its chains; httpx's connection pool costs the client more per request the more
# connections it keeps (16: 2.65 ms CPU per creation, 4: 1.6-1.7 ms), and too few leave the
# server waiting for work: 8 gave the most hops/s (BENCHMARKS.md).
CREATORS = 8


async def create_chains(client: AsyncClient, pipelines: int, stages: int, rate: float,
                        creators: int = CREATORS) -> None:
    """Create the pipelines: `creators` requests in flight, or an open-loop `rate` per
    second."""
    limiter = trio.CapacityLimiter(creators)

    async def create(i: int) -> None:
        async with limiter:
            await client.create_pipeline(
                f"bench-{i}", [Stage(f"s{n}", f"bench.s{n}") for n in range(stages)])

    async with trio.open_nursery() as creators:
        for i in range(pipelines):
            creators.start_soon(create, i)
            if rate:  # an open-loop arrival rate below capacity: latency
                await trio.sleep(1 / rate)


async def run(pipelines: int, stages: int, concurrency: int, rate: float,
              creators: int = CREATORS) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        proc, internal, external = await _start_server(db)
        try:
            key = await _api_key(internal)
            total = pipelines * stages
            worker, done = chain_worker(external, key, stages, concurrency, total)
            async with trio.open_nursery() as nursery:
                await nursery.start(worker.run)
                cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
                async with AsyncClient(external, key) as client:
                    await create_chains(client, pipelines, stages, rate, creators)
                    created = time.perf_counter() - t0
                    await done.wait()
                elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(proc.pid) - cpu0
                worker.stop("bench over")
            await trio.sleep(0.5)  # let the last acks commit before reading the file
            delays = _delays(db)
        finally:
            proc.terminate()
            await proc.wait()
    return {
        "pipelines": pipelines, "stages": stages, "concurrency": concurrency,
        "arrival_rate": rate or "all at once", "creators": creators,
        "hops": total, "seconds": round(elapsed, 2), "create_seconds": round(created, 2),
        "hops_per_second": round(total / elapsed, 1),
        "dispatch_delay_ms": {"p50": round(_pct(delays, 0.5) * 1000, 1),
                              "p95": round(_pct(delays, 0.95) * 1000, 1),
                              "p99": round(_pct(delays, 0.99) * 1000, 1)},
        "server_cpu_ms_per_hop": round(cpu / total * 1000, 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pipelines", type=int, default=300)
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=float, default=0.0,
                   help="pipelines created per second (0: all at once, a throughput run)")
    p.add_argument("--creators", type=int, default=CREATORS,
                   help="pipeline creation requests in flight")
    args = p.parse_args()
    print(json.dumps(trio.run(run, args.pipelines, args.stages, args.concurrency, args.rate,
                              args.creators), indent=2))


if __name__ == "__main__":
    main()
