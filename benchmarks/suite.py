"""Benchmark suites beyond `benchmarks.hops`: API latency, Celery side by side, memory, profile.

`--suite pipelogiq`: the `benchmarks.hops` workload (a real `pipelogiq serve`, embedded mode,
SQLite in a temp dir; one SDK `AsyncWorker` over loopback HTTP), with the worker's HTTP requests
timed by a wrapping transport: external-API round trips of `/jobs/pull` (those that returned
jobs; empty long polls are counted apart) and `/jobs/ack`, client side, body read included.
Then, on the idle server, 200 pull/ack round trips one at a time with a raw client (a job
waiting, `waitSeconds` 0): the API's own latency. Server CPU per hop is split between the main
(Trio) thread and the others (the SQLite thread).
`--profile PATH` runs py-spy on the server for the run (raw collapsed stacks, summarised at the
end; profiling slows the server, so that run's throughput is not a figure to quote).

`--suite celery`: the same chains on Celery with RabbitMQ (`benchmarks.celery_chain`).

`--suite memory`: memory per active pipeline — N pipelines whose only stage waits on a handler
no worker serves; the server's VmRSS before and after (after a warm-up of 200 such pipelines),
divided by the pipelines created. Reported after the first 1000 (their pipeline actors all
alive: an actor waiting only on a worker hibernates after 30 s), after all N (most actors
hibernated), and again `--hibernate-wait` seconds later (0 to skip). RSS rarely shrinks (the
allocator keeps freed memory), so the figures are high-water marks.

`--suite all`: pipelogiq, then celery with the same N and S, then the ratio of hops/s; then
memory with `--memory-pipelines` (0 skips it).

    python -m benchmarks.suite --suite all --pipelines 300 --stages 3 --concurrency 8
    python -m benchmarks.suite --suite pipelogiq --pipelines 2000 --profile /tmp/profile.txt
    python -m benchmarks.suite --suite memory --memory-pipelines 10000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import trio

from benchmarks.hops import (
    CREATORS,
    _api_key,
    _cpu_seconds,
    _delays,
    _pct,
    _start_server,
    chain_worker,
    create_chains,
)
from pipelogiq.sdk import AsyncClient, Stage
from pipelogiq.sdk.job import iter_messages


class TimingTransport(httpx.AsyncBaseTransport):
    """Times each request from send to body read, keyed by path and status."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.samples: dict[tuple[str, int], list[float]] = defaultdict(list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        await response.aread()
        self.samples[(request.url.path, response.status_code)].append(time.perf_counter() - t)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def report(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, Any]:
            if not values:
                return {"n": 0}
            return {"n": len(values), "p50_ms": round(_pct(values, 0.5) * 1000, 2),
                    "p99_ms": round(_pct(values, 0.99) * 1000, 2)}

        pulls = self.samples.get(("/jobs/pull", 200), [])
        acks = [v for (path, st), vs in self.samples.items() if path == "/jobs/ack" and st < 300
                for v in vs]
        return {"pull_with_jobs": stats(pulls),
                "pull_empty_long_polls": len(self.samples.get(("/jobs/pull", 204), [])),
                "ack": stats(acks)}


def _thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the main thread (Trio's) and of all other threads (SQLite's, Trio's
    thread cache) of ``pid``."""
    tick = os.sysconf("SC_CLK_TCK")
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(task.name) == pid:
            main += cpu
        else:
            other += cpu
    return main, other


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class PySpy:
    """`py-spy record` on a pid for as long as the context lasts (stopped by SIGINT)."""

    def __init__(self, pid: int, out: Path | None, gil: bool = False) -> None:
        self.pid, self.out, self.gil = pid, out, gil
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        if self.out is not None:
            self.proc = subprocess.Popen(
                ["py-spy", "record", "--pid", str(self.pid), "--format", "raw", "--threads",
                 "--rate", "100", "-o", str(self.out)] + (["--gil"] if self.gil else []),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached before the run starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)


async def run_pipelogiq(pipelines: int, stages: int, concurrency: int, rate: float = 0.0,
                        profile: Path | None = None, profile_gil: bool = False,
                        creators: int = CREATORS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        proc, internal, external = await _start_server(db)
        try:
            key = await _api_key(internal)
            total = pipelines * stages
            timing = TimingTransport()
            worker, done = chain_worker(external, key, stages, concurrency, total, timing)
            with PySpy(proc.pid, profile, profile_gil):
                async with trio.open_nursery() as nursery:
                    await nursery.start(worker.run)
                    cpu0, t0, ccpu0 = _cpu_seconds(proc.pid), time.perf_counter(), time.process_time()
                    threads0 = _thread_cpu(proc.pid)
                    async with AsyncClient(external, key) as client:
                        await create_chains(client, pipelines, stages, rate, creators)
                        created = time.perf_counter() - t0
                        await done.wait()
                    elapsed = time.perf_counter() - t0
                    cpu = _cpu_seconds(proc.pid) - cpu0
                    threads1 = _thread_cpu(proc.pid)
                    ccpu = time.process_time() - ccpu0
                    worker.stop("bench over")
            await trio.sleep(0.5)  # let the last acks commit before reading the file
            delays = _delays(db)
            idle = await _idle_round_trips(external, key, 200)
        finally:
            proc.terminate()
            await proc.wait()
    out: dict[str, Any] = {
        "system": "pipelogiq (embedded)",
        "pipelines": pipelines, "stages": stages, "concurrency": concurrency,
        "arrival_rate": rate or "all at once", "creators": creators,
        "hops": total, "seconds": round(elapsed, 2), "create_seconds": round(created, 2),
        "hops_per_second": round(total / elapsed, 1),
        "dispatch_delay_ms": {"p50": round(_pct(delays, 0.5) * 1000, 1),
                              "p95": round(_pct(delays, 0.95) * 1000, 1),
                              "p99": round(_pct(delays, 0.99) * 1000, 1)},
        "server_cpu_ms_per_hop": round(cpu / total * 1000, 2),
        "server_cpu_ms_per_hop_by_thread": {
            "main (Trio: HTTP, actors)": round((threads1[0] - threads0[0]) / total * 1000, 2),
            "other (SQLite thread)": round((threads1[1] - threads0[1]) / total * 1000, 2)},
        "client_cpu_ms_per_hop": round(ccpu / total * 1000, 2),
        "api_latency": timing.report(),
        "api_latency_idle_server": idle,
    }
    if profile is not None:
        from benchmarks.profile_summary import summarise

        out["profiled"] = "yes: py-spy slows the server, do not quote this run's throughput"
        out["profile"] = summarise(profile, 15)
    return out


async def _idle_round_trips(external: str, key: str, n: int) -> dict[str, Any]:
    """Round trips of `/jobs/pull` (a job waiting, `waitSeconds` 0) and `/jobs/ack` on an
    otherwise idle server, one request at a time, with a raw client: the API's own latency."""
    async with AsyncClient(external, key) as client:
        for i in range(n):
            await client.create_pipeline(f"probe-{i}", [Stage("probe", "bench.probe")])
    await trio.sleep(1.0)  # every probe stage dispatched
    pulls: list[float] = []
    acks: list[float] = []
    async with httpx.AsyncClient(base_url=external, timeout=30) as http:
        r = await http.post("/workers/bootstrap", headers={"X-API-Key": key}, json={
            "workerName": "probe", "instanceId": "probe-1", "workerVersion": "0",
            "supportedHandlers": ["bench.probe"], "capabilities": {"concurrency": 1}})
        r.raise_for_status()
        boot = r.json()
        headers = {"X-Worker-Session": boot["workerSessionToken"]}
        for _ in range(n):
            t = time.perf_counter()
            r = await http.post("/jobs/pull", headers=headers, json={
                "handlerName": "bench.probe", "waitSeconds": 0, "maxJobs": 1,
                "workerId": boot["workerId"]})
            pulls.append(time.perf_counter() - t)
            if r.status_code != 200:
                break
            for job in iter_messages(r.json()):
                t = time.perf_counter()
                a = await http.post("/jobs/ack", headers=headers, json={
                    "token": job["token"], "isSuccess": True, "result": "ok", "logs": []})
                acks.append(time.perf_counter() - t)
                a.raise_for_status()

    def stats(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50_ms": round(_pct(values, 0.5) * 1000, 2),
                "p99_ms": round(_pct(values, 0.99) * 1000, 2)}

    return {"pull": stats(pulls), "ack": stats(acks)}


async def _live_pipeline_actors(internal: str) -> int | None:
    async with httpx.AsyncClient(base_url=internal) as c:
        text = (await c.get("/metrics")).text
    for line in text.splitlines():
        if "live_actors" in line and 'kind="pipeline' in line and not line.startswith("#"):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


async def run_memory(n: int, concurrency: int = 32, hibernate_wait: float = 35.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        proc, internal, external = await _start_server(db)
        try:
            key = await _api_key(internal)
            async with AsyncClient(external, key) as client:
                async def create_many(start: int, count: int) -> None:
                    todo = iter(range(start, start + count))

                    async def lane() -> None:  # `concurrency` requests in flight at most
                        for i in todo:
                            await client.create_pipeline(f"idle-{i}", [Stage("wait", "bench.idle")])

                    async with trio.open_nursery() as nursery:
                        for _ in range(concurrency):
                            nursery.start_soon(lane)

                warm = 200
                await create_many(0, warm)
                await trio.sleep(2.0)
                rss0 = _rss_kib(proc.pid)

                async def checkpoint(created: int) -> dict[str, Any]:
                    rss = _rss_kib(proc.pid)
                    return {"pipelines": created, "rss_mib": round(rss / 1024, 1),
                            "bytes_per_pipeline": round((rss - rss0) * 1024 / created),
                            "live_pipeline_actors": await _live_pipeline_actors(internal)}

                # First a batch small enough that all its actors are still alive at the end
                # (an actor waiting only on a worker hibernates after 30 s), then the rest.
                first = min(n, 1000)
                t0 = time.perf_counter()
                await create_many(warm, first)
                early = await checkpoint(first)
                await create_many(warm + first, n - first)
                created = time.perf_counter() - t0
                await trio.sleep(2.0)
                out: dict[str, Any] = {
                    "pipelines": n, "warm_up_pipelines": warm, "create_seconds": round(created, 1),
                    "created_per_second": round(n / created, 1),
                    "rss_before_mib": round(rss0 / 1024, 1),
                    "first_batch": early,
                    "all": await checkpoint(n),
                    "db_mib": round(_size(Path(tmp)) / 2**20, 1),
                }
                if hibernate_wait:
                    await trio.sleep(hibernate_wait)
                    out["after_hibernation"] = await checkpoint(n)
        finally:
            proc.terminate()
            await proc.wait()
    return out


def _machine() -> dict[str, Any]:
    return {"machine": f"{platform.machine()} {os.cpu_count()} cores,"
                       f" Python {platform.python_version()}",
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="all", choices=["all", "pipelogiq", "celery", "memory"])
    p.add_argument("--pipelines", type=int, default=300, help="pipelines (chains for Celery)")
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=float, default=0.0,
                   help="pipelines created per second, Pipelogiq only (0: all at once)")
    p.add_argument("--creators", type=int, default=CREATORS,
                   help="Pipelogiq pipeline creation requests in flight")
    p.add_argument("--celery-pool", default="prefork", choices=["prefork", "threads", "solo"])
    p.add_argument("--celery-acks-late", action="store_true")
    p.add_argument("--memory-pipelines", type=int, default=10000,
                   help="pipelines waiting on no worker, for memory per pipeline (0: skip)")
    p.add_argument("--hibernate-wait", type=float, default=35.0,
                   help="seconds to wait before measuring memory again after actors hibernate")
    p.add_argument("--profile", type=Path, default=None,
                   help="record a py-spy profile of the server during the Pipelogiq run")
    p.add_argument("--profile-gil", action="store_true",
                   help="profile only samples holding the GIL (py-spy --gil): Python work only")
    args = p.parse_args()
    if args.suite in ("all", "celery") and importlib.util.find_spec("celery") is None:
        raise SystemExit("the Celery side needs the bench extra: pip install -e '.[bench]'")
    report: dict[str, Any] = {"started": _machine()}
    if args.suite in ("all", "pipelogiq"):
        report["pipelogiq"] = trio.run(run_pipelogiq, args.pipelines, args.stages,
                                       args.concurrency, args.rate, args.profile,
                                       args.profile_gil, args.creators)
        print(json.dumps(report["pipelogiq"], indent=2), flush=True)
    if args.suite in ("all", "celery"):
        from benchmarks.celery_chain import run as run_celery

        report["celery"] = run_celery(args.pipelines, args.stages, args.concurrency,
                                      args.celery_pool, args.celery_acks_late)
        print(json.dumps(report["celery"], indent=2), flush=True)
    if "pipelogiq" in report and "celery" in report:
        pq, cq = report["pipelogiq"], report["celery"]
        ratio = pq["hops_per_second"] / cq["hops_per_second"]
        report["ratio"] = round(ratio, 2)
        print(f"\n{'':24}{'Pipelogiq':>12}{'Celery':>12}")
        print(f"{'hops/s':24}{pq['hops_per_second']:>12}{cq['hops_per_second']:>12}")
        print(f"{'delay p50 ms':24}{pq['dispatch_delay_ms']['p50']:>12}"
              f"{cq['hop_delay_ms']['p50']:>12}")
        print(f"{'delay p99 ms':24}{pq['dispatch_delay_ms']['p99']:>12}"
              f"{cq['hop_delay_ms']['p99']:>12}")
        print(f"ratio (Pipelogiq hops/s ÷ Celery hops/s): {ratio:.2f}", flush=True)
    if args.suite == "memory" or (args.suite == "all" and args.memory_pipelines):
        report["memory"] = trio.run(run_memory, args.memory_pipelines, 32, args.hibernate_wait)
        print(json.dumps(report["memory"], indent=2), flush=True)
    report["finished"] = _machine()
    print(json.dumps({k: report[k] for k in ("started", "finished")}
                     | ({"ratio": report["ratio"]} if "ratio" in report else {})))


if __name__ == "__main__":
    main()
