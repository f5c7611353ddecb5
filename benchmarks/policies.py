"""Each policy type's measured effect, in one run against a real `pipelogiq serve`.

One server process (embedded mode, SQLite in a temp dir) and one SDK worker over loopback HTTP,
four scenarios one after the other, each on its own handler so only its policy acts:

- rate_limit: 20 per second (burst 20) on 200 stages created at once → achieved rate after
  the burst, and failures (must be 0).
- retry: exponential from 200 ms, cap 1.6 s, jitter 0.2, 5 attempts, on a handler that always
  fails → each retry's measured gap (failure → next delivery) against its nominal delay.
- timeout: 500 ms on a handler that never answers → delivery → timed-out, per attempt.
- circuit_breaker: 5 failures in 10 s open it for 2 s, 1 trial → dispatches while open
  (must be 0), how long it stayed open, and the time from the trial to closed.

Figures come from the stage log lines in the database afterwards.

    python -m benchmarks.policies
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx
import trio

from benchmarks.hops import EMAIL, PASSWORD, _start_server
from pipelogiq.sdk import AsyncClient, AsyncWorker, Job, Stage

RATE = {"limit": 20, "windowSeconds": 1, "keyBy": "handler", "burst": 20}
RETRY = {"maxAttempts": 5, "backoff": "exponential", "baseDelayMs": 200, "maxDelayMs": 1600,
         "jitter": 0.2}
TIMEOUT = {"timeoutMs": 500, "appliesTo": "step"}
BREAKER = {"failureThreshold": 5, "windowSeconds": 10, "openSeconds": 2, "halfOpenMaxCalls": 1}


class Failing(Exception):
    pass


def _logs(db: Path, handler: str) -> list[tuple[int, float, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT l.stage_id, l.created_at, l.message FROM stage_logs l"
            " JOIN stages s ON s.id = l.stage_id WHERE s.handler = ? ORDER BY l.id",
            (handler,)).fetchall()


def _delivered(rows: list[tuple[int, float, str]]) -> list[tuple[int, float]]:
    return [(sid, t) for sid, t, m in rows if m.startswith("Running: delivered")]


def _rate(db: Path, n: int) -> dict[str, Any]:
    times = sorted(t for _, t in _delivered(_logs(db, "bench.rate")))
    burst = int(RATE["burst"])
    with sqlite3.connect(db) as conn:
        failed = conn.execute("SELECT COUNT(*) FROM stages WHERE handler = 'bench.rate'"
                              " AND status <> 'Completed'").fetchone()[0]
    # sustained rate: what went beyond the burst, over the whole run
    achieved = (len(times) - burst) / (times[-1] - times[0])
    return {"configured_per_second": RATE["limit"], "burst": burst, "stages": n,
            "achieved_per_second_beyond_burst": round(achieved, 2),
            "total_seconds": round(times[-1] - times[0], 2), "not_completed": failed}


def _retry(db: Path) -> dict[str, Any]:
    rows = _logs(db, "bench.retry")
    gaps: dict[int, list[float]] = {}
    last_failure: dict[int, float] = {}
    retry_no: dict[int, int] = {}
    for sid, t, m in rows:
        if m.startswith("RetryScheduled") or m.startswith("Failed"):
            last_failure[sid] = t
            retry_no[sid] = retry_no.get(sid, 0) + 1
        elif m.startswith("Running: delivered") and sid in last_failure:
            gaps.setdefault(retry_no[sid], []).append(t - last_failure.pop(sid))
    nominal = [min(0.2 * 2 ** (n - 1), 1.6) for n in range(1, 5)]
    return {"rule": RETRY, "retries": [
        {"retry": n, "nominal_s": nominal[n - 1], "allowed_s": [round(nominal[n - 1] * 0.8, 3),
                                                                nominal[n - 1]],
         "measured_min_s": round(min(g), 3), "measured_max_s": round(max(g), 3)}
        for n, g in sorted(gaps.items())]}


def _timeout(db: Path) -> dict[str, Any]:
    rows = _logs(db, "bench.timeout")
    started: dict[int, float] = {}
    took = []
    for sid, t, m in rows:
        if m.startswith("Running: delivered"):
            started[sid] = t
        elif "timed out after" in m and sid in started:
            took.append(t - started.pop(sid))
    return {"configured_s": TIMEOUT["timeoutMs"] / 1000, "attempts": len(took),
            "measured_p50_s": round(statistics.median(took), 3),
            "measured_max_s": round(max(took), 3)}


def _breaker(db: Path) -> dict[str, Any]:
    rows = _logs(db, "bench.breaker")
    opened = next(t for _, t, m in rows if "circuit breaker opened" in m)
    closed = next(t for _, t, m in rows if "circuit breaker closed" in m)
    trial = next(t for _, t, m in rows if "half-open: trial" in m)
    during = [t for _, t in _delivered(rows) if opened < t < trial]
    return {"rule": BREAKER, "dispatches_while_open": len(during),
            "open_for_s": round(trial - opened, 3), "trial_to_closed_s": round(closed - trial, 3)}


async def _policy(c: httpx.AsyncClient, kind: str, rule: dict[str, Any], handler: str) -> None:
    r = await c.post("/api/policies", json={"applicationId": 1, "name": f"bench {kind}",
                                            "type": kind, "rule": rule,
                                            "targeting": {"handlers": [handler]}})
    r.raise_for_status()


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        proc, internal, external = await _start_server(db)
        try:
            async with httpx.AsyncClient(base_url=internal) as c:
                (await c.post("/api/auth/login",
                              json={"email": EMAIL, "password": PASSWORD})).raise_for_status()
                r = await c.post("/api/apikeys", json={"applicationId": 1, "name": "bench"})
                key = str(r.raise_for_status().json()["key"])
                for kind, rule, handler in [("rate_limit", RATE, "bench.rate"),
                                            ("retry", RETRY, "bench.retry"),
                                            ("timeout", TIMEOUT, "bench.timeout"),
                                            ("circuit_breaker", BREAKER, "bench.breaker")]:
                    await _policy(c, kind, rule, handler)
                await _scenarios(external, key, c)
        finally:
            proc.terminate()
            await proc.wait()
        return {"rate_limit": _rate(db, 200), "retry": _retry(db), "timeout": _timeout(db),
                "circuit_breaker": _breaker(db),
                "machine": f"{platform.machine()} {os.cpu_count()} cores,"
                           f" Python {platform.python_version()}"}


async def _scenarios(external: str, key: str, internal: httpx.AsyncClient) -> None:
    breaker_calls = 0
    worker = AsyncWorker(external, key, "bench", concurrency=8, wait_seconds=2,
                         extend_leases=False)

    async def ok(job: Job) -> str:
        return "ok"

    async def fail(job: Job) -> str:
        raise Failing("always")

    async def hang(job: Job) -> str:
        await trio.sleep(3)
        return "late"

    async def breaker(job: Job) -> str:
        nonlocal breaker_calls
        breaker_calls += 1
        if breaker_calls <= int(BREAKER["failureThreshold"]):
            raise Failing("down")
        return "up again"

    for name, fn in [("bench.rate", ok), ("bench.retry", fail), ("bench.timeout", hang),
                     ("bench.breaker", breaker)]:
        worker.add_handler(name, fn)
    async with trio.open_nursery() as nursery, AsyncClient(external, key) as client:
        await nursery.start(worker.run)

        async def batch(handler: str, n: int, **options: Any) -> list[int]:
            ids = []
            for i in range(n):
                p = await client.create_pipeline(f"{handler}-{i}",
                                                 [Stage("s", handler, **options)])
                ids.append(int(p["id"]))
            return ids

        async def settle(ids: list[int]) -> None:
            for pid in ids:
                while True:  # another process: its progress is only observable by asking
                    doc = (await internal.get(f"/api/pipelines/{pid}")).json()
                    if doc["status"] in ("Completed", "Failed", "Cancelled"):
                        break
                    await trio.sleep(0.1)

        await settle(await batch("bench.rate", 200))
        await settle(await batch("bench.retry", 10))
        await settle(await batch("bench.timeout", 10))
        first = await batch("bench.breaker", 5)
        await settle(first)
        await settle(await batch("bench.breaker", 10))
        worker.stop("bench over")


def main() -> None:
    logging.getLogger("pipelogiq.sdk").setLevel(logging.CRITICAL)  # failures are the point
    print(json.dumps(trio.run(run), indent=2))


if __name__ == "__main__":
    main()
