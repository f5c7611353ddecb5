"""Policy enforcement in the engine (SPEC §6), with exact virtual timings.

A real Engine over a real (inline) SQLite store on `autojump_clock`: a rate limit's dispatch
times, a breaker's open → half-open → closed/open cycle, retry backoff with its jitter bounds
and a timeout policy's limit, each to the virtual second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from actor_harness import Harness, running_engine, settings, stage
from pipelogiq import enforcement as enf
from pipelogiq.alerts import Alert
from pipelogiq.domain import StageStatus
from pipelogiq.policies import PolicyDraft, parse_targeting, validate_rule
from pipelogiq.store.policies_store import PolicyAccess
from test_alert_sites import Recorder


async def policy(h: Harness, policy_type: str, rule: dict[str, Any],
                 targeting: dict[str, Any] | None = None, name: str = "p") -> dict[str, Any]:
    draft = PolicyDraft(h.app_id, name, policy_type, validate_rule(policy_type, rule),
                        parse_targeting(targeting))
    return await h.store.create_policy(draft, "test")


async def insights_total(h: Harness, policy_id: int) -> int:
    doc = await h.store.policy_insights(policy_id, PolicyAccess(frozenset({h.app_id})),
                                        h.clock.now() - 3600, 60)
    return int(doc["total"])


async def wait_reason(h: Harness, pid: int) -> str:
    """The first stage's waitReason, once it has one (woken by the hub, never a timer)."""
    changes = h.engine.hub.subscribe()
    async with changes:
        while True:
            doc = await h.store.pipeline_json(pid)
            assert doc is not None
            if reason := doc["stages"][0].get("waitReason"):
                return str(reason)
            while await changes.receive() != pid:
                pass


async def worker(h: Harness, handler: str, outcomes: list[bool], task_status: Any
                 = trio.TASK_STATUS_IGNORED) -> None:
    """Pulls and acks at once: success or failure from `outcomes`, then successes."""
    task_status.started()
    while True:
        job = await h.pull_one(handler)
        ok = outcomes.pop(0) if outcomes else True
        await h.ack(job.token, is_success=ok, error_message=None if ok else "boom")


async def test_ten_jobs_under_five_per_second_take_one_second_and_none_fail(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        p = await policy(h, "rate_limit", {"limit": 5, "windowSeconds": 1, "keyBy": "handler"},
                         {"handlers": ["h"]})
        await h.nursery.start(worker, h, "h", [])
        t0 = h.clock.now()
        pids = [await h.create(stage()) for _ in range(10)]
        for pid in pids:
            await h.wait_for(pid, lambda status, _: status == "Completed")
        elapsed = h.clock.now() - t0
        assert 1.0 <= elapsed < 2.0
        for pid in pids:
            _, stages = await h.states(pid)
            assert stages[0].status == StageStatus.COMPLETED and stages[0].attempt == 1
        held = [pid for pid in pids if any("rate limited" in line for line in await h.logs(pid))]
        assert len(held) == 5  # the burst went at once, the rest waited for their slots
        assert await insights_total(h, p["id"]) == 5


async def test_a_rate_limited_stage_shows_its_wait_reason_and_never_fails(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        await policy(h, "rate_limit", {"limit": 1, "windowSeconds": 60, "keyBy": "global"},
                     name="slow lane")
        first = await h.create(stage())
        second = await h.create(stage())
        await h.wait_stage(first, "Pending")
        assert "slow lane" in await wait_reason(h, second)
        assert (await h.stage(second)).status == StageStatus.NOT_STARTED
        t0 = h.clock.now()
        await h.wait_stage(second, "Pending")
        assert h.clock.now() - t0 == pytest.approx(60, abs=0.01)


async def test_breaker_opens_holds_then_half_opens_and_reopens_or_closes(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings(stage_pending_timeout=10_000.0)) as h:
        p = await policy(h, "circuit_breaker", {"failureThreshold": 2, "windowSeconds": 60,
                                                "openSeconds": 30, "halfOpenMaxCalls": 1})
        outcomes = [False, False, False, True]
        await h.nursery.start(worker, h, "h", outcomes)
        a, b = await h.create(stage()), await h.create(stage())
        await h.wait_for(a, lambda s, _: s == "Failed")
        await h.wait_for(b, lambda s, _: s == "Failed")
        opened = h.clock.now()
        c = await h.create(stage())
        assert "circuit breaker held: circuit open" in await wait_reason(h, c)
        # half-open after 30 s: one trial, which fails → open again for 30 s
        await h.wait_for(c, lambda s, _: s == "Failed")
        assert h.clock.now() - opened == pytest.approx(30, abs=0.01)
        reopened = h.clock.now()
        d = await h.create(stage())
        e = await h.create(stage())
        await h.wait_for(d, lambda s, _: s == "Completed")  # the next trial succeeds → closed
        assert h.clock.now() - reopened == pytest.approx(30, abs=0.01)
        await h.wait_for(e, lambda s, _: s == "Completed")  # woken when the breaker closed
        assert h.clock.now() - reopened == pytest.approx(30, abs=0.01)
        assert any("opened" in line for line in await h.logs(b))
        assert await insights_total(h, p["id"]) >= 4


async def test_retry_policy_backs_off_exponentially_within_jitter_bounds(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        await policy(h, "retry", {"maxAttempts": 5, "backoff": "exponential", "baseDelayMs": 1000,
                                  "maxDelayMs": 5000, "jitter": 0.5}, name="backoff")
        pid = await h.create(stage(max_retries=0))  # the policy overrides the stage options
        gaps = []
        for attempt in range(1, 6):
            job = await h.pull_one()
            failed_at = h.clock.now()
            await h.ack(job.token, is_success=False, error_message="nope")
            if attempt < 5:
                s = await h.stage(pid)
                assert s.status == StageStatus.RETRY_SCHEDULED
                assert s.next_retry_at is not None
                gaps.append(s.next_retry_at - failed_at)
        status, stages = await h.wait_for(pid, lambda s, _: s == "Failed")
        assert stages[0].attempt == 5
        for gap, full in zip(gaps, [1.0, 2.0, 4.0, 5.0], strict=True):
            assert full * 0.5 <= gap <= full + 1e-9
        assert any("backoff" in line for line in await h.logs(pid))


async def test_retry_policy_retries_only_listed_error_codes(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        await policy(h, "retry", {"maxAttempts": 3, "backoff": "fixed", "baseDelayMs": 500,
                                  "retryOn": {"errorCodes": ["TIMEOUT"]}})
        transient, fatal = await h.create(stage()), await h.create(stage())
        for _ in range(2):
            job = await h.pull_one()
            code = "TIMEOUT" if job.payload["pipelineId"] == transient else "BAD_INPUT"
            await h.ack(job.token, is_success=False, error_code=code)
        assert (await h.stage(transient)).status == StageStatus.RETRY_SCHEDULED
        assert (await h.stage(fatal)).status == StageStatus.FAILED


async def test_timeout_policy_limits_each_attempt(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    async with running_engine(tmp_path, settings()) as h:
        await policy(h, "timeout", {"timeoutMs": 2000, "appliesTo": "step"}, name="two seconds")
        pid = await h.create(stage(max_retries=1, retry_interval=1))
        job = await h.pull_one()
        assert job.lease_until - h.clock.now() == pytest.approx(2.0)
        t0 = h.clock.now()
        s = await h.wait_stage(pid, "RetryScheduled")
        assert h.clock.now() - t0 == pytest.approx(2.0, abs=0.01)
        assert s.attempt == 2
        assert any("two seconds" in line for line in await h.logs(pid))


def test_backoff_arithmetic() -> None:
    rule = enf.RetryRule(1, "r", 6, "exponential", 0.1, 1.0, 0.0, None)
    assert [rule.delay(n, 0.0) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    jittered = enf.RetryRule(1, "r", 6, "fixed", 2.0, None, 1.0, None)
    assert jittered.delay(1, 0.0) == 2.0 and jittered.delay(1, 0.999) == pytest.approx(0.002)


def test_gcra_slots() -> None:
    rules = {"limit": 5, "windowSeconds": 1}
    tat, slots = None, []
    for _ in range(10):
        slot = enf.rate_slot(rules, tat, 0.0)
        tat = slot.tat
        slots.append(round(slot.at, 6))
    assert slots == [0, 0, 0, 0, 0, 0.2, 0.4, 0.6, 0.8, 1.0]


async def test_holds_and_breaker_changes_raise_policy_triggered_alerts(
        tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    recorder = Recorder()
    async with running_engine(tmp_path, settings(), alerter=recorder) as h:
        limit = await policy(h, "rate_limit", {"limit": 1, "windowSeconds": 60,
                                               "keyBy": "global"}, name="one a minute")
        await h.create(stage())
        second = await h.create(stage())
        await wait_reason(h, second)
        held = [m for m in recorder.messages if isinstance(m, Alert)]
        assert [m.event for m in held] == ["policy.triggered"]
        assert held[0].key == f"policy.triggered:{limit['id']}"
        assert "one a minute" in held[0].title

        await policy(h, "circuit_breaker", {"failureThreshold": 1, "windowSeconds": 60,
                                            "openSeconds": 30, "halfOpenMaxCalls": 1},
                     {"handlers": ["b"]}, name="breaker")
        await h.create(stage(handler="b"))
        job = await h.pull_one("b")
        await h.ack(job.token, is_success=False)
        opened = [m for m in recorder.messages
                  if isinstance(m, Alert) and "breaker" in m.title]
        assert len(opened) == 1 and "opened" in opened[0].text
