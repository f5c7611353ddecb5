"""Stage hops per second and dispatch delay in distributed mode (PostgreSQL + RabbitMQ):
`apis` API and `engines` engine replicas from `pipelogiq.devcluster` on a fresh database and
prefix, SDK workers in this process spread over the API replicas.

    python -m benchmarks.cluster_hops --engines 1                      # throughput
    python -m benchmarks.cluster_hops --engines 2 --pipelines 300
    python -m benchmarks.cluster_hops --engines 1 --rate 10            # dispatch delay

Dispatch delay = stage delivered − stage ready (the previous stage finished, or the pipeline
was created, for the first stage), read from the database afterwards — as `benchmarks.hops`
measures embedded mode; it includes the ack, the engine's wake-up through RabbitMQ, the
dispatch and the delivery. CPU seconds of every replica are printed too: on a small machine
they show where the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
from pathlib import Path

import httpx
import trio

from pipelogiq.devcluster import LocalCluster
from pipelogiq.sdk import AsyncWorker, Job, Result


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sql(url: str, query: str) -> list[list[str]]:
    out = subprocess.run(["psql", url, "-Atqc", query], check=True, capture_output=True,
                         text=True).stdout
    return [line.split("|") for line in out.splitlines()]


async def run(args: argparse.Namespace) -> None:
    cluster = LocalCluster(apis=args.apis, engines=args.engines,
                           env={"LOG_LEVEL": "WARNING" if args.quiet_logs else "INFO"})
    handlers = [f"h{i}" for i in range(args.stages)]
    async with trio.open_nursery() as nursery:
        await cluster.start(nursery)
        try:
            await _drive(cluster, nursery, handlers, args)
        finally:
            with trio.CancelScope(shield=True):
                await cluster.stop()
            nursery.cancel_scope.cancel()


async def _drive(cluster: LocalCluster, nursery: trio.Nursery, handlers: list[str],
                 args: argparse.Namespace) -> None:
    api = cluster.apis[0]
    async with httpx.AsyncClient(base_url=api.internal_url, timeout=30,
                                 headers={"Origin": api.internal_url}) as c:
        r = await c.post("/api/auth/login", json={"email": cluster.admin_email,
                                                  "password": cluster.admin_password})
        r.raise_for_status()
        r = await c.post("/api/apikeys", json={"applicationId": 1, "name": "bench"})
        key = r.json()["key"]
    total = args.pipelines * len(handlers)
    finished = trio.Event()
    done = 0
    workers = []
    for i in range(args.workers):
        w = AsyncWorker(cluster.apis[i % len(cluster.apis)].external_url, key, f"bench-{i}",
                        concurrency=args.concurrency, wait_seconds=10, backoff_base=0.01)
        for h in handlers:
            @w.handler(h)
            async def handle(job: Job) -> Result:
                nonlocal done
                done += 1
                if done >= total:
                    finished.set()
                return Result(output="ok")
        workers.append(w)
        await nursery.start(w.run)
    cpu0 = {r.name: _cpu_seconds(r.proc.pid) for r in cluster.replicas if r.proc}
    start = trio.current_time()
    async with httpx.AsyncClient(timeout=30) as ext:
        async def create(i: int) -> None:
            url = cluster.apis[i % len(cluster.apis)].external_url
            r = await ext.post(f"{url}/pipelines", headers={"X-API-Key": key}, json={
                "name": f"b{i}", "stages": [{"stageName": h, "stageHandlerName": h}
                                            for h in handlers]})
            r.raise_for_status()

        async with trio.open_nursery() as creating:
            for i in range(args.pipelines):
                creating.start_soon(create, i)
                if args.rate:  # an open-loop load: latency without a backlog
                    await trio.sleep(1 / args.rate)
        await finished.wait()
    elapsed = trio.current_time() - start
    for w in workers:
        w.stop("bench over")
    cpu = {r.name: _cpu_seconds(r.proc.pid) - cpu0[r.name] for r in cluster.replicas if r.proc}
    rows = _sql(cluster.database_url,
                "SELECT s.pipeline_id, s.position, s.attempt_started_at, s.finished_at,"
                " p.created_at FROM stages s JOIN pipelines p ON p.id = s.pipeline_id"
                " ORDER BY s.pipeline_id, s.position")
    delays: list[float] = []
    prev_finished: dict[str, float] = {}
    for pid, pos, delivered, finished, created in rows:
        ready = float(created) if pos == "0" else prev_finished.get(pid)
        if ready is not None and delivered:
            delays.append((float(delivered) - ready) * 1000)
        if finished:  # the last acks may still be on their way
            prev_finished[pid] = float(finished)
    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    load = f"{args.rate:g} pipelines/s" if args.rate else "all at once"
    print(f"{args.apis} API + {args.engines} engine replica(s), {args.workers} workers x"
          f" {args.concurrency}, {load}: {total} hops in {elapsed:.1f}s = {total / elapsed:.0f} hops/s;"
          f" dispatch delay p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print("CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apis", type=int, default=2)
    p.add_argument("--engines", type=int, default=1)
    p.add_argument("--pipelines", type=int, default=200)
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--rate", type=float, default=0.0,
                   help="pipelines created per second (0: all at once)")
    p.add_argument("--quiet-logs", action="store_true", help="LOG_LEVEL=WARNING in replicas")
    trio.run(run, p.parse_args())


if __name__ == "__main__":
    main()
