"""SIGKILL the server with jobs pending and running; the restarted server finishes every
pipeline and completes no stage twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import trio

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from serverproc import ServerProcess

PIPELINES, STAGES = 8, 3


async def _key(internal: str) -> str:
    async with httpx.AsyncClient(base_url=internal) as c:
        r = await c.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        r = await c.post("/api/apikeys", json={"applicationId": 1, "name": "crash"})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


async def _work_until_done(ext: httpx.AsyncClient, key: str, db: Path) -> int:
    """Pull and ack until every pipeline is finished; returns how many acks were applied."""
    applied = 0
    while not _all_finished(db):
        r = await ext.post("/jobs/pull", headers={"X-API-Key": key},
                           json={"handlerName": "step", "waitSeconds": 1, "maxJobs": 10})
        if r.status_code == 204:
            continue
        for job in r.json()["jobs"]:
            a = await ext.post("/jobs/ack", headers={"X-API-Key": key},
                               json={"token": job["token"], "result": f"done-{job['payload']['stageId']}"})
            assert a.status_code in (200, 409), a.text
            applied += a.status_code == 200
    return applied


def _all_finished(db: Path) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        n = conn.execute("SELECT COUNT(*) FROM pipelines WHERE status NOT IN"
                         " ('Completed','Failed','Cancelled')").fetchone()[0]
        return int(n) == 0


async def test_sigkill_then_restart_completes_everything(tmp_path: Path,
                                                        spawned: list[ServerProcess]) -> None:
    db = tmp_path / "crash.db"
    first = ServerProcess(db, JOB_LEASE="2s")
    spawned.append(first)
    async with trio.open_nursery() as nursery:
        await first.start(nursery)
        key = await _key(first.internal_url)
        async with httpx.AsyncClient(base_url=first.external_url) as ext:
            for i in range(PIPELINES):
                r = await ext.post("/pipelines", headers={"X-API-Key": key}, json={
                    "name": f"crash-{i}",
                    "stages": [{"stageName": f"s{j}", "stageHandlerName": "step"}
                               for j in range(STAGES)]})
                assert r.status_code == 200, r.text
            # Complete a few first stages, then hold some jobs Running without acking.
            r = await ext.post("/jobs/pull", headers={"X-API-Key": key},
                               json={"handlerName": "step", "maxJobs": 3})
            for job in r.json()["jobs"]:
                a = await ext.post("/jobs/ack", headers={"X-API-Key": key},
                                   json={"token": job["token"], "result": "before-crash"})
                assert a.status_code == 200, a.text
            r = await ext.post("/jobs/pull", headers={"X-API-Key": key},
                               json={"handlerName": "step", "maxJobs": 2})
            held = r.json()["jobs"]
            assert len(held) == 2
        await first.kill()
        nursery.cancel_scope.cancel()

    with sqlite3.connect(db) as conn:
        states = dict(conn.execute("SELECT status, COUNT(*) FROM stages GROUP BY status").fetchall())
    assert states.get("Running") == 2 and states.get("Pending", 0) >= 1, states

    second = ServerProcess(db, JOB_LEASE="2s")
    spawned.append(second)
    async with trio.open_nursery() as nursery:
        await second.start(nursery)
        async with httpx.AsyncClient(base_url=second.external_url, timeout=30) as ext:
            with trio.fail_after(60):
                applied = await _work_until_done(ext, key, db)
            # The tokens held across the crash were reclaimed: acking them now is refused.
            for job in held:
                a = await ext.post("/jobs/ack", headers={"X-API-Key": key},
                                   json={"token": job["token"]})
                assert a.status_code == 409, a.text
        assert await second.stop() == 0
        nursery.cancel_scope.cancel()

    with sqlite3.connect(db) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM pipelines")]
        completed_lines = conn.execute(
            "SELECT stage_id, COUNT(*) FROM stage_logs WHERE message LIKE 'Completed:%'"
            " GROUP BY stage_id").fetchall()
        redelivered = conn.execute(
            "SELECT COUNT(*) FROM stages WHERE redeliveries > 0").fetchone()[0]
    assert statuses == ["Completed"] * PIPELINES
    assert len(completed_lines) == PIPELINES * STAGES
    assert all(count == 1 for _, count in completed_lines), completed_lines
    assert applied == PIPELINES * STAGES - 3
    assert redelivered == 2
