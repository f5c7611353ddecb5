"""The store contract, run against both implementations: SQLite (a file per test) and
PostgreSQL (a fresh database per test on the machine's server). The same calls must give the
same answers; times come from a clock the test moves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio

import pgdb
from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.domain import (
    ContextItem,
    Delivered,
    Job,
    JobResult,
    LogLine,
    NewPipeline,
    NewStage,
    StageOptions,
)
from pipelogiq.policies import PolicyDraft, parse_targeting, validate_rule
from pipelogiq.store import postgres
from pipelogiq.store.base import Held, PipelineQuery, StoreError
from pipelogiq.store.observability_store import TraceQuery
from pipelogiq.store.policies_store import PolicyAccess, PolicyQuery
from pipelogiq.store.postgres import PostgresStore
from pipelogiq.store.sqlite import SqlStore
from pipelogiq.store.sqltx import tx
from storekit import T0, ManualClock, Opener


async def new_app(store: SqlStore, name: str = "app") -> int:
    return int((await store.create_application(name, None, None))["id"])


def stages(n: int, **options: Any) -> tuple[NewStage, ...]:
    return tuple(NewStage(f"s{i}", "h", input=f"in{i}", options=StageOptions(**options))
                 for i in range(n))


async def new_pipeline(store: SqlStore, app: int, n: int = 3, name: str = "p",
                       options: dict[str, Any] | None = None,
                       **extra: Any) -> tuple[int, list[int]]:
    pid, created = await store.create_pipeline(
        NewPipeline(app, name, stages(n, **(options or {})), **extra))
    assert created
    _, states = await store.stage_states(pid)
    return pid, [s.id for s in states]


async def deliver(store: SqlStore, stage_id: int, worker: str | None = None) -> Delivered:
    job = await store.dispatch(stage_id, "ready")
    assert isinstance(job, Job)
    (d,) = await store.lease([job], "q", worker, 30)
    return d


async def status_of(store: SqlStore, pid: int) -> tuple[str, list[str]]:
    doc = await store.pipeline_json(pid)
    assert doc is not None
    return doc["status"], [s["status"] for s in doc["stages"]]


# -- pipelines and the engine's transitions --------------------------------------------------

async def test_kind_ping_and_a_three_stage_run(store: SqlStore, clock: ManualClock) -> None:
    await store.ping()
    assert store.kind in ("sqlite", "postgres")
    app = await new_app(store)
    pid, ids = await new_pipeline(store, app, keywords=(("team", "Core"),),
                                  context=(("order", "7", "string"),), idempotency_key="k1")
    again, created = await store.create_pipeline(NewPipeline(app, "p", stages(3),
                                                             idempotency_key="k1"))
    assert (again, created) == (pid, False)
    assert await store.idle_active_pipeline_ids() == [pid]

    outputs = []
    for i, sid in enumerate(ids):
        clock.t += 1
        job = await store.dispatch(sid, "ready")
        assert isinstance(job, Job) and (job.stage_id, job.attempt) == (sid, 1)
        assert await store.dispatch(sid, "again") is None  # it moved: exactly once
        assert await store.pending_jobs() == [job]
        (d,) = await store.lease([job], "q", None, 30)
        assert await store.lease([job], "q", None, 30) == []  # already delivered
        assert d.payload["stageId"] == sid and d.payload["input"] == f"in{i}"
        assert {"key": "order", "value": "7", "valueType": "string"} in d.payload["contextItems"]
        assert d.lease_until == clock.t + 30
        clock.t += 2
        out = await store.ack(app, d.token, JobResult(
            output=f"out{i}", logs=(LogLine("Information", f"line {i}", clock.t),),
            context=(ContextItem(f"k{i}", f"v{i}"),)))
        assert (out.kind, out.status, out.attempt_seconds) == ("applied", "Completed", 2.0)
        assert (await store.ack(app, d.token, JobResult())).kind == "duplicate"
        outputs.append(f"out{i}")
    assert await store.finish_pipeline(pid, "Completed", "all stages done")
    assert not await store.finish_pipeline(pid, "Failed", "too late")

    doc = await store.pipeline_json(pid, with_logs=True)
    assert doc is not None
    assert doc["status"] == "Completed" and doc["finishedAt"].endswith("Z")
    assert [s["output"] for s in doc["stages"]] == outputs
    assert [s["nextStageId"] for s in doc["stages"][:2]] == ids[1:]
    assert {c["key"] for c in doc["pipelineContextItems"]} == {"order", "k0", "k1", "k2"}
    assert doc["pipelineKeywords"] == [{"key": "team", "value": "Core"}]
    assert any(line["message"] == "line 1" for line in doc["stages"][1]["logs"])
    assert await store.idle_active_pipeline_ids() == []


async def test_a_pipeline_started_and_carried_on_by_the_transactions_that_made_it_due(
        store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    pid, created, follow, _ = await store.create_and_start(NewPipeline(app, "p", stages(2)))
    assert created and follow is not None and follow.job is not None and follow.settled
    _, (first, second) = await store.stage_states(pid)
    assert (first.status, second.status) == ("Pending", "NotStarted")
    assert follow.job.stage_id == first.id and list(follow.stages) == [first, second]
    again = await store.create_and_start(NewPipeline(app, "p", stages(2)))
    assert again[2] is not None  # no idempotency key: another pipeline

    (d,) = await store.lease([follow.job], "q", None, 30)
    out = await store.ack(app, d.token, JobResult(output="o"), follow=True)
    assert out.follow is not None and out.follow.job is not None
    assert out.follow.job.stage_id == second.id
    _, states = await store.stage_states(pid)
    assert [s.status for s in states] == ["Completed", "Pending"] == [
        s.status for s in out.follow.stages]
    assert (await store.ack(app, d.token, JobResult(), follow=True)).follow is None  # duplicate

    (d,) = await store.lease([out.follow.job], "q", None, 30)
    out = await store.ack(app, d.token, JobResult(), follow=True)
    assert out.follow is not None and out.follow.job is None
    assert out.follow.finished == ("Completed", "every stage finished")
    status, statuses = await status_of(store, pid)
    assert (status, statuses) == ("Completed", ["Completed", "Completed"])

    # A retry waits on a timer and a policy may hold a stage back: both are the actor's.
    pid, (sid,) = await new_pipeline(store, app, 1, options={"retry_interval": 10,
                                                              "max_retries": 1})
    d = await deliver(store, sid)
    out = await store.ack(app, d.token, JobResult(is_success=False), follow=True)
    assert out.status == "RetryScheduled" and out.follow is None
    await store.create_policy(draft(app, "any"), "ann")
    pid, created, follow, _ = await store.create_and_start(NewPipeline(app, "p", stages(1)))
    assert created and follow is None
    assert (await status_of(store, pid)) == ("NotStarted", ["NotStarted"])


async def test_a_batch_of_results_is_one_transaction_with_the_workers_counts_added_up(
        store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    wid = await store.bootstrap_worker(app, {"workerName": "w", "instanceId": "i"}, "s", 3600)
    before = await store.run(lambda c: c.execute(
        "SELECT processed, failed FROM workers WHERE id = ?", (wid,)).fetchone())
    jobs = []
    for _ in range(3):
        _, _, follow, _ = await store.create_and_start(NewPipeline(app, "p", stages(1)))
        assert follow is not None and follow.job is not None
        jobs.append(follow.job)
    delivered = await store.lease(jobs, "q", wid, 30)
    outcomes = await store.ack_many(app, [
        (delivered[0].token, JobResult(output="a")),
        (delivered[1].token, JobResult(is_success=False, error_code="E")),
        ("not-a-token", JobResult()),
        (delivered[2].token, JobResult(output="c")),
        (delivered[0].token, JobResult(output="again")),
    ], follow=True)
    assert [o.kind for o in outcomes] == ["applied", "applied", "not_found", "applied",
                                          "duplicate"]
    assert [o.follow.finished[0] if o.follow and o.follow.finished else None
            for o in outcomes] == ["Completed", "Failed", None, "Completed", None]
    after = await store.run(lambda c: c.execute(
        "SELECT processed, failed FROM workers WHERE id = ?", (wid,)).fetchone())
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


async def test_a_lease_batch_delivers_each_current_job_once_with_its_own_context(
        store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    jobs = []
    for i in range(3):
        _, _, follow, _ = await store.create_and_start(NewPipeline(
            app, "p", stages(1), context=((f"k{i}", f"v{i}", "string"),)))
        assert follow is not None and follow.job is not None
        jobs.append(follow.job)
    stale = attrs.evolve(jobs[2], attempt=2)  # not the current attempt: dropped
    delivered = await store.lease([jobs[1], jobs[0], jobs[1], stale], "q", None, 30)
    assert [d.payload["stageId"] for d in delivered] == [jobs[1].stage_id, jobs[0].stage_id]
    assert [d.payload["contextItems"] for d in delivered] == [
        [{"key": "k1", "value": "v1", "valueType": "string"}],
        [{"key": "k0", "value": "v0", "valueType": "string"}]]
    assert await store.lease([jobs[2]], "q", None, 30) != []  # still there for its attempt


async def test_the_answer_to_a_creation_is_the_pipeline_as_stored(
        store: SqlStore, clock: ManualClock) -> None:
    """create_and_start builds its pipeline JSON from what it wrote: the same document a read
    gives, whatever the pipeline holds (and read back when a policy leaves the first step to
    the actor, or for an idempotent repeat)."""
    app = await new_app(store)
    shapes = [
        NewPipeline(app, "plain", stages(3)),
        NewPipeline(app, "rich", (
            NewStage("a", "h", description="first", input="in", options=StageOptions(
                max_retries=2, retry_interval=5, time_out=30, run_as_user="ops")),
            NewStage("b", "h2", options=StageOptions(run_next_if_failed=True))),
            keywords=(("team", "Core"), ("team", "Ops"), ("env", "prod")),
            context=(("z", "1", "number"), ("a", "x", "string"), ("z", "2", "number")),
            trace_id="0af7651916cd43dd8448eb211c80319c", idempotency_key="k-1"),
        NewPipeline(app, "event", (NewStage("e", "h", is_event=True),)),
        NewPipeline(app, "empty", ()),
    ]
    for new in shapes:
        pid, created, _, doc = await store.create_and_start(new)
        assert created
        assert doc == await store.pipeline_json(pid), new.name
    again = await store.create_and_start(shapes[1])
    assert not again[1] and again[3] == await store.pipeline_json(again[0])
    await store.create_policy(draft(app, "any"), "ann")
    pid, _, follow, doc = await store.create_and_start(NewPipeline(app, "held", stages(1)))
    assert follow is None and doc == await store.pipeline_json(pid)


async def test_failures_retries_and_unknown_tokens(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    other = await new_app(store, "other")
    pid, (sid,) = await new_pipeline(store, app, 1, options={"retry_interval": 10, "max_retries": 1})
    d = await deliver(store, sid)
    assert (await store.ack(other, d.token, JobResult())).kind == "not_found"
    assert (await store.ack(app, "nope", JobResult())).kind == "not_found"
    out = await store.ack(app, d.token, JobResult(is_success=False, error_code="E1"))
    assert out.status == "RetryScheduled"
    _, (st,) = await store.stage_states(pid)
    assert (st.attempt, st.retries_used, st.next_retry_at) == (2, 1, clock.t + 10)
    assert await store.next_deadline(300) is None
    d = await deliver(store, sid)
    assert d.payload["attempt"] == 2
    out = await store.ack(app, d.token, JobResult(is_success=False, retryable=True))
    assert out.status == "Failed"  # no retry left
    assert await status_of(store, pid) == ("Running", ["Failed"])


async def test_requeue_extend_and_expired_leases(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    pid, (sid,) = await new_pipeline(store, app, 1, options={"time_out": 100})
    d = await deliver(store, sid, "w1")
    assert await store.next_deadline(300) == clock.t + 30
    clock.t += 10
    assert await store.extend(app, d.token, 60) == clock.t + 60
    clock.t += 50
    assert await store.extend(app, d.token, 60) == T0 + 100  # never past timeOut
    requeued = await store.requeue(app, d.token, 3)
    assert requeued.kind == "applied" and requeued.republish is not None
    assert requeued.republish.attempt == 2
    assert (await store.ack(app, d.token, JobResult())).kind == "conflict"
    with pytest.raises(StoreError) as err:
        await store.extend(app, d.token, 10)
    assert err.value.status == 409

    (d2,) = await store.lease([requeued.republish], "q", "w2", 30)
    assert (await store.reclaim_expired(3)).jobs == ()  # not yet
    clock.t += 31
    assert (await store.ack(app, d2.token, JobResult())).kind == "not_found"  # expired
    reclaimed = await store.reclaim_expired(3)
    assert [j.attempt for j in reclaimed.jobs] == [3] and reclaimed.pipeline_ids == {pid}
    (d3,) = await store.lease(list(reclaimed.jobs), "q", "w3", 30)
    reclaimed = await store.reclaim_worker("w3", 3, "worker w3 went offline")
    assert [j.attempt for j in reclaimed.jobs] == [4]
    assert (await store.ack(app, d3.token, JobResult())).kind == "conflict"
    (d4,) = await store.lease(list(reclaimed.jobs), "q", None, 30)
    assert await store.return_leases([d4.token]) == [reclaimed.jobs[0]]
    clock.t += 301
    failed = await store.fail_stale_pending(300)
    assert failed.pipeline_ids == {pid}
    _, (st,) = await store.stage_states(pid)
    assert st.status == "Failed"


# -- operator actions ------------------------------------------------------------------------

async def test_operator_actions(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    apps = [app]
    pid, ids = await new_pipeline(store, app, 3, options={"retry_interval": 600, "max_retries": 2})
    d = await deliver(store, ids[0])
    with pytest.raises(StoreError) as err:
        await store.rerun(ids[0], False, "ann", apps)
    assert err.value.status == 409
    with pytest.raises(StoreError) as err:
        await store.skip(ids[0], "ann", [app + 100])
    assert err.value.status == 404
    await store.ack(app, d.token, JobResult(is_success=False))
    assert await store.retry_now(ids[0], "ann", apps) == pid
    with pytest.raises(StoreError):
        await store.retry_now(ids[1], "ann", apps)  # NotStarted: 409
    d = await deliver(store, ids[0])
    await store.ack(app, d.token, JobResult(output="first"))
    assert await store.skip(ids[1], "ann", apps) == pid
    assert await store.rerun(ids[0], True, "ann", apps) == pid
    _, states = await store.stage_states(pid)
    assert [(s.status, s.attempt) for s in states] == [
        ("NotStarted", 3), ("NotStarted", 2), ("NotStarted", 2)]
    d = await deliver(store, ids[0])
    assert await store.cancel(pid, "ann", apps) == pid
    out = await store.ack(app, d.token, JobResult())
    assert out.kind == "conflict" and out.reason.startswith("cancelled")
    assert await status_of(store, pid) == ("Cancelled", ["Cancelled"] * 3)
    with pytest.raises(StoreError):
        await store.cancel(pid, "ann", apps)
    lines = await store.pipeline_log_lines(pid, None, apps, 0, 1000)
    assert any("by ann" in line["message"] for line in lines)
    await store.delete_pipeline(pid, apps)
    assert await store.pipeline_json(pid) is None


# -- listing and searching -------------------------------------------------------------------

async def test_list_and_search_pipelines(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    other = await new_app(store, "other")
    made = []
    for i, (name, kw, ctx) in enumerate([
        ("Orders-Import", ("env", "Prod"), ("customer", "ACME")),
        ("billing", ("env", "dev"), ("customer", "globex")),
        ("orders_export", ("team", "core"), ("customer", "acme")),
    ]):
        clock.t = T0 + 100 * i
        made.append((await new_pipeline(store, app, 1, name, keywords=(kw,),
                                         context=(ctx + ("string",),)))[0])
    await new_pipeline(store, other, 1, "orders-elsewhere")

    async def ids(**q: Any) -> list[int]:
        page = await store.list_pipelines(PipelineQuery([app], **q))
        return [p["id"] for p in page["items"]]

    assert await ids() == made[::-1]  # newest first
    assert await ids(search="ORDERS") == [made[2], made[0]]  # case-insensitive
    assert await ids(search="acme") == [made[2], made[0]]  # context values too
    assert await ids(search="s_e") == [made[2]]  # `_` taken literally
    assert await ids(search="prod") == [made[0]]  # keyword values
    assert await ids(keywords=["env:dev"]) == [made[1]]
    assert await ids(keywords=["core"]) == [made[2]]
    assert await ids(context=[("customer", "globex")]) == [made[1]]
    assert await ids(start_from=T0 + 50, start_to=T0 + 150) == [made[1]]
    assert await ids(statuses=["Completed"]) == []
    page = await store.list_pipelines(PipelineQuery([app], page_number=2, page_size=2))
    assert page["totalCount"] == 3 and [p["id"] for p in page["items"]] == [made[0]]
    assert (await store.list_pipelines(PipelineQuery([])))["items"] == []
    keys = await store.keyword_values([app])
    assert keys == [{"key": "env", "values": ["Prod", "dev"]},
                    {"key": "team", "values": ["core"]}]
    traces = await store.list_traces(TraceQuery([app], search="ORDERS"))
    assert [t["pipelineId"] for t in traces["items"]] == [made[2], made[0]]


# -- accounts, keys, users, logs -------------------------------------------------------------

async def test_accounts_keys_and_users(store: SqlStore, clock: ManualClock) -> None:
    assert await store.get_or_set_setting("jwt", "a") == "a"
    assert await store.get_or_set_setting("jwt", "b") == "a"
    assert await store.count_users() == 0
    uid = await store.create_user("Ann@Example.com", "Ann", "Admin", "hash")
    assert uid is not None
    assert await store.create_user("ann@example.com", "Again", "Admin", "hash") is None
    bob = await store.create_user("bob@example.com", "Bob", "RegularUser", "hash")
    assert bob is not None
    user = await store.user_by_email("ANN@example.com")
    assert user is not None and user["id"] == uid and user["name"] == "Ann"
    assert (await store.user_by_id(uid) or {})["email"] == "ann@example.com"

    app = (await store.create_application("shop", "the shop", uid))["id"]
    with pytest.raises(StoreError) as err:
        await store.create_application("shop", None, None)
    assert err.value.status == 409
    assert (await store.application_by_name("shop") or {})["id"] == app
    assert await store.visible_application_ids(uid) == [app]
    assert await store.visible_application_ids(bob) == []
    await store.add_application_member(app, bob, [app])
    assert await store.visible_application_ids(bob) == [app]
    assert [m["email"] for m in await store.application_members(app, [app])] == [
        "ann@example.com", "bob@example.com"]
    detail = await store.update_application(app, "shop2", "", [app])
    assert detail["name"] == "shop2" and detail["memberCount"] == 2
    assert await store.set_user_role(bob, "Admin")
    with pytest.raises(StoreError):
        await store.set_user_disabled(uid, True, uid)  # not yourself
    assert (await store.set_user_disabled(bob, True, uid))["disabled"]
    assert [u["id"] for u in await store.list_users()] == [uid, bob]

    key = await store.create_api_key(app, "k", "hash-1", "pq_ab", None)
    assert key["isActive"]
    assert await store.authenticate_key("hash-1") == app
    assert [k["id"] for k in await store.list_api_keys([app])] == [key["id"]]
    await store.disable_api_key(key["id"], [app])
    with pytest.raises(StoreError) as err:
        await store.authenticate_key("hash-1")
    assert err.value.status == 401
    await store.create_api_key(app, "old", "hash-2", "pq_cd", clock.t - 1)
    with pytest.raises(StoreError):
        await store.authenticate_key("hash-2")

    await store.app_log(app, "Warning", "Disk is FULL", None, '{"disk":"sda"}')
    await store.app_log(app, "Information", "all good", clock.t - 5, None)
    logs = await store.application_logs([app], 1, 10, [], "full")
    assert [item["message"] for item in logs["items"]] == ["Disk is FULL"]
    assert logs["items"][0]["keywords"] == {"disk": "sda"}
    assert (await store.application_logs([app], 1, 10, ["Information"], None))["totalCount"] == 1


async def test_workers(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    info = {"workerName": "w", "instanceId": "i-1", "pid": 42, "supportedHandlers": ["h"]}
    wid = await store.bootstrap_worker(app, info, "sess-1", 3600)
    assert await store.bootstrap_worker(app, info, "sess-2", 3600) == wid  # same instance
    principal = await store.authenticate_session("sess-2")
    assert (principal.application_id, principal.worker_id) == (app, wid)
    with pytest.raises(StoreError):
        await store.authenticate_session("sess-1")
    clock.t += 5
    assert await store.heartbeat(wid, {"state": "ready", "jobsProcessed": 7, "cpuPercent": 3,
                                       "inFlightJobs": 1}) == "starting"
    assert await store.heartbeat(wid, {"state": "ready", "jobsProcessed": 2}) is None
    assert await store.add_worker_events(wid, [{"eventType": "note", "message": "hi"}]) == 1
    assert await store.worker_last_seen(wid) == ("ready", clock.t)
    assert await store.live_workers() == [(wid, clock.t)]
    (listed,) = await store.list_workers([app], 45)
    assert (listed["processed"], listed["inFlight"], listed["effectiveState"]) == (7, 1, "ready")
    detail = await store.worker_detail(wid, [app], 45)
    assert detail["pid"] == 42 and detail["handlers"] == ["h"]
    assert (await store.worker_events(wid, [app], 10))[0]["eventType"] == "note"
    assert len(await store.worker_heartbeats(wid, [app], 10)) == 2
    assert not await store.set_worker_gone(wid, "offline", "lost", stale_before=clock.t - 1)
    assert await store.set_worker_gone(wid, "offline", "lost", stale_before=clock.t)
    assert await store.live_workers() == []
    summary = await store.stats_summary([app], clock.t, clock.t - 3600, 45)
    assert summary["workersByState"]["offline"] == 1
    gauges = await store.metrics_gauges(45)
    assert gauges["workersByState"]["offline"] == 1


# -- statistics and insights -----------------------------------------------------------------

async def test_stats_buckets_floor(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    for offset in (0, 59, 60, 119.9, 150):  # buckets of 60 s: 0, 0, 1, 1, 2
        clock.t = T0 + offset
        pid, (sid,) = await new_pipeline(store, app, 1)
        if offset == 150:
            d = await deliver(store, sid)
            await store.ack(app, d.token, JobResult(is_success=False))
            await store.finish_pipeline(pid, "Failed", "stage failed")
    rows = await store.stats_executions([app], T0, 60, 3)
    assert [r["created"] for r in rows] == [2, 2, 1]
    assert [r["failed"] for r in rows] == [0, 0, 1]
    summary = await store.stats_summary([app], clock.t, T0, 45)
    assert (summary["pipelinesFinished"], summary["pipelinesFailed"]) == (1, 1)
    assert summary["failureRate"] == 1.0 and summary["pipelinesByStatus"]["NotStarted"] == 4
    insights = await store.observability_insights([app], T0)
    assert insights["summary"]["pipelinesStarted"] == 5
    assert insights["summary"]["stagesFailed"] == 1


# -- policies --------------------------------------------------------------------------------

def draft(app: int | None, name: str) -> PolicyDraft:
    rule = validate_rule("retry", {"maxAttempts": 5, "backoff": "fixed", "baseDelayMs": 100})
    return PolicyDraft(app, name, "retry", rule, parse_targeting({"handlers": ["h"]}))


async def test_policies_crud_and_audit(store: SqlStore, clock: ManualClock) -> None:
    app = await new_app(store)
    access = PolicyAccess(frozenset({app}), admin=True)
    a = await store.create_policy(draft(app, "beta"), "ann")
    b = await store.create_policy(draft(app, "Alpha"), "ann")
    g = await store.create_policy(draft(None, "global one"), "ann")
    listed = await store.list_policies(PolicyQuery([app], sort_by="name", descending=False))
    assert [p["name"] for p in listed["items"]] == ["Alpha", "beta", "global one"]
    only_app = await store.list_policies(PolicyQuery([app], include_global=False))
    assert {p["id"] for p in only_app["items"]} == {a["id"], b["id"]}
    assert (await store.list_policies(PolicyQuery([], include_global=False)))["items"] == []
    found = await store.list_policies(PolicyQuery([app], search="ALP"))
    assert [p["id"] for p in found["items"]] == [b["id"]]

    clock.t += 10
    updated = await store.update_policy(a["id"], draft(app, "beta 2"), 1, "bob", access)
    assert (updated["version"], updated["updatedBy"]) == (2, "bob")
    with pytest.raises(StoreError) as err:
        await store.update_policy(a["id"], draft(app, "beta 3"), 1, "bob", access)
    assert err.value.status == 409
    paused = await store.set_policy_status(a["id"], "pause", "bob", access)
    assert paused["status"] == "paused"
    copy = await store.duplicate_policy(a["id"], "bob", access)
    assert copy["name"] == "beta 2 (copy)" and copy["status"] == "disabled"
    gcopy = await store.duplicate_policy(g["id"], "bob", access)
    assert gcopy["name"] == "global one (copy)" and gcopy["applicationId"] is None
    await store.delete_policy(a["id"], "bob", access)
    with pytest.raises(StoreError) as err:
        await store.get_policy(a["id"], access)
    assert err.value.status == 404
    trail = await store.policy_audit(a["id"], access, 1, 10)
    assert trail["deleted"] and [e["kind"] for e in trail["items"]][0] == "deleted"
    insights = await store.policy_insights(b["id"], access, clock.t - 3600, 60)
    assert insights["total"] == 0 and insights["byStage"] == []
    await new_pipeline(store, app, 1, "orders", context=(("env", "prod", "string"),))
    targets = await store.policy_targets([app])
    assert targets["pipelines"] == ["orders"] and targets["environments"] == ["all", "prod"]
    (facts,) = await store.recent_pipeline_facts([app], 10)
    assert facts.name == "orders"


# -- concurrency: two stores (two processes) on one database ---------------------------------

async def test_two_stores_racing_for_one_stage_exactly_one_wins(
        store: SqlStore, open_store: Opener) -> None:
    app = await new_app(store)
    _, ids = await new_pipeline(store, app, 12)
    async with open_store() as second:
        stores = (store, second)
        for sid in ids:
            jobs: list[Any] = []

            async def dispatch(s: SqlStore, out: list[Any] = jobs, sid: int = sid) -> None:
                out.append(await s.dispatch(sid, "race"))

            async with trio.open_nursery() as nursery:
                for s in stores:
                    nursery.start_soon(dispatch, s)
            won = [j for j in jobs if j is not None]
            assert len(won) == 1, jobs
            leased: list[list[Delivered]] = []

            async def lease(s: SqlStore, out: list[Any] = leased, job: Job = won[0]) -> None:
                out.append(await s.lease([job], "q", None, 30))

            async with trio.open_nursery() as nursery:
                for s in stores:
                    nursery.start_soon(lease, s)
            assert sorted(len(batch) for batch in leased) == [0, 1]
            token = next(d for batch in leased for d in batch).token
            outcomes: list[str] = []

            async def ack(s: SqlStore, out: list[str] = outcomes, token: str = token) -> None:
                out.append((await s.ack(app, token, JobResult())).kind)

            async with trio.open_nursery() as nursery:
                for s in stores:
                    nursery.start_soon(ack, s)
            assert sorted(outcomes) == ["applied", "duplicate"]


async def _all(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at once; their results in the calls' order."""
    out: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        out[i] = await calls[i]()

    async with trio.open_nursery() as nursery:
        for i in range(len(calls)):
            nursery.start_soon(one, i)
    return out


async def test_two_stores_sharing_a_rate_limit_never_exceed_it(
        store: SqlStore, open_store: Opener, clock: ManualClock) -> None:
    """The bucket is read, computed on and written back by each dispatch: racing dispatches
    (two stores, every stage asked for by both at once) must take slots one after another."""
    app = await new_app(store)
    rule = validate_rule("rate_limit", {"limit": 3, "windowSeconds": 60, "keyBy": "global"})
    await store.create_policy(
        PolicyDraft(app, "three a minute", "rate_limit", rule, parse_targeting({})), "ann")
    ids = [(await new_pipeline(store, app, 1, f"p{i}"))[1][0] for i in range(12)]
    async with open_store() as second:
        stores = (store, second)

        async def dispatch_all() -> list[Any]:
            return await _all([lambda s=s, sid=sid: s.dispatch(sid, "race")
                               for sid in ids for s in stores])

        first = await dispatch_all()
        assert sum(isinstance(r, Job) for r in first) == 3  # burst = limit, no time elapsed
        # Every held stage reserved its own slot, one emission interval (20 s) after another:
        # a lost update of the bucket would give two stages one slot.
        holds = {r.pipeline_id: r.until for r in first if isinstance(r, Held)}
        assert sorted(holds.values()) == [T0 + 20 * k for k in range(1, 10)]

        clock.t += 45  # burst + limit * 45/60 = 5.25: two more slots have come
        again = await dispatch_all()
        assert sum(isinstance(r, Job) for r in again) == 2
        _, counts = zip(*[await status_of(store, pid) for pid in holds], strict=True)
        assert sum(c == ["Pending"] for c in counts) == 2


async def test_two_stores_racing_to_lease_and_settle_many_jobs(
        store: SqlStore, open_store: Opener) -> None:
    """Both stores lease every job at once (in opposite orders: row locks taken crosswise
    deadlock, and the loser runs again); then each job is acked by one store while the other
    hands it back. Every job is delivered once and settled once, consistently."""
    app = await new_app(store)
    ids = [(await new_pipeline(store, app, 1, f"p{i}"))[1][0] for i in range(16)]
    jobs = [await store.dispatch(sid, "ready") for sid in ids]
    assert all(isinstance(j, Job) for j in jobs)
    async with open_store() as second:
        batches = await _all([lambda: store.lease(jobs, "q", None, 30),
                              lambda: second.lease(jobs[::-1], "q", None, 30)])
        delivered = [d for batch in batches for d in batch]
        assert sorted(d.payload["stageId"] for d in delivered) == sorted(ids)

        calls: list[Callable[[], Any]] = []
        for i, d in enumerate(delivered):
            acker, giver = (store, second) if i % 2 else (second, store)
            calls.append(lambda s=acker, t=d.token: s.ack(app, t, JobResult(output="done")))
            calls.append(lambda s=giver, t=d.token: s.requeue(app, t, 3))
        outcomes = await _all(calls)
    for d, ack, requeue in zip(delivered, outcomes[::2], outcomes[1::2], strict=True):
        pid = d.payload["pipelineId"]
        _, (st,) = await store.stage_states(pid)
        if ack.kind == "applied":
            assert requeue.kind == "duplicate"
            assert (st.status, st.attempt) == ("Completed", 1)
        else:
            assert (requeue.kind, ack.kind) == ("applied", "conflict")
            assert (st.status, st.attempt) == ("Pending", 2)


async def test_two_stores_counting_failures_open_the_breaker(
        store: SqlStore, open_store: Opener) -> None:
    """Failures counted at once by two stores each see the others': the breaker opens."""
    app = await new_app(store)
    rule = validate_rule("circuit_breaker", {"failureThreshold": 6, "windowSeconds": 60,
                                             "openSeconds": 30, "halfOpenMaxCalls": 1})
    await store.create_policy(
        PolicyDraft(app, "breaker", "circuit_breaker", rule, parse_targeting({})), "ann")
    ids = [(await new_pipeline(store, app, 1, f"p{i}"))[1][0] for i in range(7)]
    delivered = [await deliver(store, sid) for sid in ids[:6]]
    async with open_store() as second:
        outcomes = await _all([
            lambda s=(store, second)[i % 2], t=d.token: s.ack(
                app, t, JobResult(is_success=False, error_code="E"))
            for i, d in enumerate(delivered)])
    assert all(o.kind == "applied" for o in outcomes)
    assert sum(any("opened" in t.what for t in o.triggers) for o in outcomes) == 1
    assert isinstance(await store.dispatch(ids[6], "ready"), Held)


async def test_postgres_ping_fails_when_the_database_is_gone(pg_url: str,
                                                             clock: ManualClock) -> None:
    async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar) as store:
        await store.migrate()
        await store.ping()
        pgdb.drop(pg_url)
        for _ in range(2):  # the dead connection, then the failed reconnect
            with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
                await store.ping()


async def test_postgres_ping_gives_up_when_the_database_does_not_answer(
        pg_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "PING_WAIT", 0.3)
    async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar, pool_size=2) as store:
        started = threading.Semaphore(0)
        async with trio.open_nursery() as nursery:
            for _ in range(2):  # every connection busy: a probe waits behind them
                nursery.start_soon(store.run, _sleep, started)
            for _ in range(2):
                await trio.to_thread.run_sync(started.acquire)
            with pytest.raises(ConnectionError, match="did not answer"):
                await store.ping()
        await store.ping()  # answered again once the connections are free


def _sleep(conn: Any, started: threading.Semaphore) -> None:
    started.release()
    conn.execute("SELECT pg_sleep(1)")


async def test_postgres_replicas_starting_together_migrate_once(pg_url: str,
                                                                clock: ManualClock) -> None:
    applied: list[list[str]] = []

    async def replica() -> None:
        async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar) as store:
            applied.append(await store.migrate())
            await store.get_or_set_setting("jwt_secret", f"candidate-{len(applied)}")

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(replica)
    assert sorted(map(len, applied))[:2] == [0, 0] and max(map(len, applied)) >= 3


async def test_postgres_store_reconnects_after_its_connections_are_killed(
        pg_url: str, clock: ManualClock) -> None:
    async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar) as store:
        await store.migrate()
        name = pg_url.rsplit("/", 1)[1]
        killed = pgdb.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           f" WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        assert int(killed) == postgres.POOL_SIZE
        failures = 0
        for _ in range(2 * postgres.POOL_SIZE):  # a connection may learn it died by one failure
            try:
                await store.count_users()
            except Exception:
                failures += 1
        assert failures <= postgres.POOL_SIZE
        for _ in range(2 * postgres.POOL_SIZE):
            assert await store.count_users() == 0


def _write_two_rows_losing_the_connection_between(conn: Any, database: str) -> None:
    with tx(conn):
        conn.execute("INSERT INTO kv_settings (key, value) VALUES ('first', '1')")
        pgdb.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  f" WHERE datname = '{database}' AND state LIKE 'idle in transaction%'")
        conn.execute("INSERT INTO kv_settings (key, value) VALUES ('second', '2')")


async def test_postgres_never_finishes_a_transaction_on_a_new_connection(
        pg_url: str, clock: ManualClock) -> None:
    async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar, pool_size=1) as store:
        await store.migrate()
        with pytest.raises(Exception):  # noqa: B017 - the driver's error, whichever it is
            await store.run(_write_two_rows_losing_the_connection_between,
                            pg_url.rsplit("/", 1)[1])
        assert await store.get_or_set_setting("first", "absent") == "absent"
        assert await store.get_or_set_setting("second", "absent") == "absent"


def _insert_then_fail(conn: Any) -> None:
    with tx(conn):
        conn.execute("INSERT INTO kv_settings (key, value) VALUES ('failed', '1')")
        raise ValueError("the function's own error")


def _insert_and_leave_open(conn: Any) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO kv_settings (key, value) VALUES ('open', '1')")


def _sleep_long(conn: Any) -> None:
    with tx(conn):
        conn.execute("INSERT INTO kv_settings (key, value) VALUES ('cancelled', '1')")
        conn.execute("SELECT pg_sleep(30)")


async def test_postgres_transaction_guards(pg_url: str, clock: ManualClock) -> None:
    """On one connection: a failed function is rolled back, one that leaves its transaction
    open is rolled back and refused, and a readiness probe cancelled mid-statement gives up
    at once, its statement cancelled on the server, and leaves the connection usable."""
    async with Sidecar() as sidecar, PostgresStore(pg_url, clock, sidecar, pool_size=1) as store:
        await store.migrate()
        with pytest.raises(ValueError, match="own error"):
            await store.run(_insert_then_fail)
        with pytest.raises(RuntimeError, match="left its transaction open"):
            await store.run(_insert_and_leave_open)
        with trio.fail_after(10):  # not the 30 s the statement would take
            with trio.move_on_after(0.2) as scope:
                await store._db.run(_sleep_long, shield=False)
        assert scope.cancelled_caught
        assert await store.get_or_set_setting("failed", "absent") == "absent"
        assert await store.get_or_set_setting("open", "absent") == "absent"
        assert await store.get_or_set_setting("cancelled", "absent") == "absent"
        name = pg_url.rsplit("/", 1)[1]
        sleeping = pgdb.psql("SELECT count(*) FROM pg_stat_activity"
                             f" WHERE datname = '{name}' AND query LIKE 'SELECT pg_sleep%'")
        assert int(sleeping) == 0
