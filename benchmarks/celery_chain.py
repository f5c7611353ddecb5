"""The same chain workload on Celery with RabbitMQ: N chains of S trivial tasks, all at once.

A `celery worker` subprocess (prefork pool by default, concurrency 8 like the Pipelogiq SDK
worker of `benchmarks.hops`) consumes one queue in a vhost of its own on the local RabbitMQ
(127.0.0.1:5672, guest/guest), created for the run and deleted after it (`rabbitmqctl`; without
it, the default vhost with queue names unique to the run, deleted after it). The broker itself
is shared and is never stopped.

Each task returns its input; the input carries when the previous task ended (or when the chain
was sent), so each task records its own hop delay (task start − previous task end, the
counterpart of Pipelogiq's dispatch delay). The last task of a chain publishes the chain's
record to a "done" queue, which this process consumes: hops/s = N·S ÷ (last chain done − first
chain sent). No result backend is configured (see `benchmarks.celery_app`).

CPU per hop is reported for the worker's process tree (main process and pool children) and,
separately, for the RabbitMQ node — the latter includes whatever else uses that broker meanwhile —
and for this process (sending the chains, consuming the "done" records).

    python -m benchmarks.celery_chain --chains 300 --stages 3 --concurrency 8
    python -m benchmarks.celery_chain --chains 300 --stages 3 --pool threads
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from celery import chain
from kombu import Connection, Queue

from benchmarks.celery_app import make_app

ROOT = Path(__file__).resolve().parent.parent
RABBIT = "amqp://guest:guest@127.0.0.1:5672"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def _rabbit_pid() -> int | None:
    try:
        out = subprocess.run(["pgrep", "-o", "beam.smp"], capture_output=True, text=True,
                             check=False).stdout.split()
    except OSError:
        return None
    return int(out[0]) if out else None


class Vhost:
    """A vhost of the benchmark's own for the run (deleted afterwards), or "/" as a fallback."""

    def __init__(self) -> None:
        self.name = f"pipelogiq-bench-{uuid.uuid4().hex[:10]}"
        self.own = False

    def __enter__(self) -> str:
        ctl = shutil.which("rabbitmqctl")
        if ctl:
            made = subprocess.run([ctl, "add_vhost", self.name], capture_output=True, check=False)
            if made.returncode == 0:
                self.own = True
                subprocess.run([ctl, "set_permissions", "-p", self.name, "guest", ".*", ".*", ".*"],
                               capture_output=True, check=True)
                return self.name
        return "/"

    def __exit__(self, *exc: object) -> None:
        if self.own:
            subprocess.run(["rabbitmqctl", "delete_vhost", self.name], capture_output=True,
                           check=False)


def _quoted(vhost: str) -> str:
    return "%2F" if vhost == "/" else vhost


def _wait_done(conn: Connection, done: Queue, n: int, timeout: float) -> tuple[list[dict[str, Any]], float]:
    """Consume ``n`` chain records from ``done``; returns them and the time the last arrived."""
    got: list[dict[str, Any]] = []
    last = time.time()

    def on_message(body: dict[str, Any], message: Any) -> None:
        nonlocal last
        got.append(body)
        last = time.time()
        message.ack()

    deadline = time.monotonic() + timeout
    with conn.Consumer(done, callbacks=[on_message], accept=["json"]):
        while len(got) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(got)} of {n} chains finished within {timeout} s")
            try:
                conn.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:  # socket.timeout: nothing arrived this second
                continue
    return got, last


def run(chains: int, stages: int, concurrency: int, pool: str = "prefork",
        acks_late: bool = False, timeout: float = 300.0) -> dict[str, Any]:
    uid = uuid.uuid4().hex[:10]
    queue, done_name = f"pipelogiq-bench-{uid}", f"pipelogiq-bench-done-{uid}"
    with Vhost() as vhost, tempfile.TemporaryDirectory() as tmp:
        broker = f"{RABBIT}/{_quoted(vhost)}"
        env = {**os.environ, "PIPELOGIQ_BENCH_BROKER": broker, "PIPELOGIQ_BENCH_QUEUE": queue,
               "PIPELOGIQ_BENCH_DONE": done_name,
               "PIPELOGIQ_BENCH_ACKS_LATE": "1" if acks_late else ""}
        log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115 (closed below)
        app = make_app(broker, queue, acks_late)
        hop = app.signature("bench.hop")
        done = Queue(done_name, routing_key=done_name, durable=False)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "benchmarks.celery_app", "worker",
             "--pool", pool, "--concurrency", str(concurrency), "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"bench-{uid}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with Connection(broker) as conn:
                done.bind(conn).declare()

                def send(i: int) -> None:
                    payload = {"chain": i, "t": time.time(), "delays": []}
                    chain(hop.clone(args=(payload,), kwargs={"last": stages == 1}),
                          *(hop.clone(kwargs={"last": n == stages - 1})
                            for n in range(1, stages))).apply_async()

                # Warm-up (and readiness: the worker is up once one chain went through).
                for i in range(concurrency):
                    send(-1 - i)
                _wait_done(conn, done, concurrency, 60.0)
                rabbit = _rabbit_pid()
                cpu0 = _tree_cpu(worker.pid)
                rcpu0 = _tree_cpu(rabbit) if rabbit else 0.0
                ccpu0 = time.process_time()
                t0 = time.time()
                for i in range(chains):
                    send(i)
                sent = time.time() - t0
                records, last = _wait_done(conn, done, chains, timeout)
                elapsed = last - t0
                cpu = _tree_cpu(worker.pid) - cpu0
                rcpu = (_tree_cpu(rabbit) - rcpu0) if rabbit else None
                ccpu = time.process_time() - ccpu0
        finally:
            worker.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.close()
            app.close()
            if vhost == "/":  # fallback: remove what the run declared in the shared vhost
                with Connection(broker) as conn, conn.channel() as ch:
                    for name in (queue, done_name):
                        ch.queue_delete(name)
                    ch.exchange_delete(queue)
    total = chains * stages
    delays = [d for r in records for d in r["delays"]]
    return {
        "system": "celery",
        "celery": _versions(),
        "pool": pool, "concurrency": concurrency, "acks_late": acks_late,
        "result_backend": None,
        "chains": chains, "stages": stages, "hops": total,
        "seconds": round(elapsed, 2), "send_seconds": round(sent, 2),
        "hops_per_second": round(total / elapsed, 1),
        "hop_delay_ms": {"p50": round(_pct(delays, 0.5) * 1000, 1),
                         "p95": round(_pct(delays, 0.95) * 1000, 1),
                         "p99": round(_pct(delays, 0.99) * 1000, 1)},
        "worker_cpu_ms_per_hop": round(cpu / total * 1000, 2),
        "rabbitmq_cpu_ms_per_hop": None if rcpu is None else round(rcpu / total * 1000, 2),
        "client_cpu_ms_per_hop": round(ccpu / total * 1000, 2),
        "vhost": "own (deleted after the run)" if vhost != "/" else "/ (queues deleted)",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def _versions() -> str:
    import celery
    import kombu

    return f"celery {celery.__version__}, kombu {kombu.__version__}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chains", type=int, default=300)
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    p.add_argument("--acks-late", action="store_true",
                   help="ack each message after its task ran (as a Pipelogiq worker does)")
    args = p.parse_args()
    print(json.dumps(run(args.chains, args.stages, args.concurrency, args.pool, args.acks_late),
                     indent=2))


if __name__ == "__main__":
    main()
