"""The alerter over a fake store and a fake sender, on virtual time (`autojump_clock`):
de-duplication, the retry schedule, giving up, non-blocking emission, event selection and
`notifyOnFailure`, the backlog check. Each request the fake sender gets is handed to the test
through a channel, so the test waits for the event and reads the virtual time it came at."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio

from pipelogiq import alerts
from pipelogiq.actors import alerter as alerter_module
from pipelogiq.actors.alerter import Alerter, Delivery
from pipelogiq.alerts import Alert, Deduper, retry_delay, retryable
from pipelogiq.clock import TrioClock
from pipelogiq.config import Settings
from pipelogiq.integrations import SIGNATURE_HEADER, IntegrationState, signature
from pipelogiq.observability.metrics import Metrics
from pipelogiq.store.base import QueueBacklog

URL = "http://receiver.test/hook"
SECRET = "s3cret-signing-key"
GUARD = 100_000.0


# -- pure rules --------------------------------------------------------------------------------

def test_dedup_window_and_forget() -> None:
    d = Deduper(window=600)
    assert d.admit("k", 0.0) and not d.admit("k", 599.9) and d.seen("k", 599.9)
    assert d.admit("k", 600.0)  # the window has passed
    assert d.admit("other", 601.0)
    d.forget("other")
    assert d.admit("other", 602.0)


def test_dedup_is_bounded() -> None:
    d = Deduper(window=600, max_keys=3)
    for i in range(10):
        assert d.admit(f"k{i}", float(i))
    assert len(d) == 3 and d.seen("k9", 10.0) and not d.seen("k0", 10.0)


def test_retry_schedule_doubles_with_jitter_and_a_cap() -> None:
    assert [retry_delay(n, 0.5) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_delay(3, 0.0) == pytest.approx(4 * 0.8)
    assert retry_delay(3, 0.999999) == pytest.approx(4 * 1.2, rel=1e-5)
    assert retry_delay(1, 0.5, retry_after=30) == 30  # the receiver's Retry-After
    assert retry_delay(1, 0.5, retry_after=10_000) == alerts.RETRY_AFTER_CAP


@pytest.mark.parametrize(("status", "again"), [
    (None, True), (500, True), (503, True), (429, True), (408, True),
    (400, False), (401, False), (404, False), (302, False)])
def test_what_is_retried(status: int | None, again: bool) -> None:
    assert retryable(status) is again


# -- the actor over fakes -------------------------------------------------------------------

@attrs.define
class FakeStore:
    config: dict[str, Any] | None = None
    pipelines: dict[int, dict[str, Any]] = attrs.Factory(dict)
    backlog: list[QueueBacklog] = attrs.Factory(list)
    config_reads: int = 0

    async def integration_states(self) -> dict[str, IntegrationState]:
        self.config_reads += 1
        return {"alerting": IntegrationState("alerting", self.config, 1.0)}

    async def pipeline_json(self, pipeline_id: int, *,
                            with_logs: bool = False) -> dict[str, Any] | None:
        return self.pipelines.get(pipeline_id)

    async def worker_app(self, worker_id: str) -> int | None:
        return 1

    async def worker_detail(self, worker_id: str, apps: Collection[int],
                            offline_after: float) -> dict[str, Any]:
        return {"id": worker_id, "name": "w-" + worker_id, "hostName": "host1"}

    async def queue_backlog(self, min_depth: int, pending_before: float) -> list[QueueBacklog]:
        return self.backlog


@attrs.frozen
class Request:
    at: float
    url: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


Answer = Callable[[Request], Any]  # returns a status or a Delivery, may await


@attrs.define
class FakeSender:
    """Answers from `script` (status per attempt, then `default`); reports every request."""

    reports: trio.MemorySendChannel[Request]
    script: list[Any] = attrs.Factory(list)
    default: Any = 200

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> Delivery:
        req = Request(trio.current_time(), url, dict(headers), body)
        self.reports.send_nowait(req)
        answer = self.script.pop(0) if self.script else self.default
        if answer == "hang":
            await trio.sleep_forever()
        if isinstance(answer, Delivery):
            return answer
        return Delivery(answer, None if 200 <= answer < 300 else f"HTTP {answer}")


def alerting(**over: Any) -> dict[str, Any]:
    return {"enabled": True, "webhookUrl": URL, "channel": "webhook", "secret": SECRET,
            "events": ["stage.failed", "pipeline.failed", "queue.backlog"], **over}


@attrs.define
class Rig:
    alerter: Alerter
    store: FakeStore
    sender: FakeSender
    requests: trio.MemoryReceiveChannel[Request]
    metrics: Metrics

    async def next(self) -> Request:
        with trio.fail_after(GUARD):
            return await self.requests.receive()

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def quiet(self, seconds: float) -> None:
        """Nothing arrives for `seconds` of virtual time."""
        with trio.move_on_after(seconds):
            got = await self.requests.receive()
            raise AssertionError(f"unexpected request {got.doc}")


def alert(key: str = "stage.failed:1", event: str = "stage.failed", **kw: Any) -> Alert:
    return Alert(event, key, f"title {key}", f"text {key}", {"k": key}, **kw)


@asynccontextmanager
async def rig(config: dict[str, Any] | None = None, *, script: list[Any] | None = None,
              **settings: Any) -> AsyncIterator[Rig]:
    store = FakeStore(alerting() if config is None else config)
    send, receive = trio.open_memory_channel[Request](1000)
    sender = FakeSender(send, list(script or []))
    metrics = Metrics()
    alerter = Alerter(store, TrioClock(), Settings(**settings), metrics, sender=sender,
                      rand=lambda: 0.5)
    async with trio.open_nursery() as nursery:
        await nursery.start(alerter.run)
        yield Rig(alerter, store, sender, receive, metrics)
        nursery.cancel_scope.cancel()


async def test_delivers_a_signed_webhook(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        r.alerter.emit(alert())
        req = await r.next()
        assert req.url == URL
        assert req.headers[SIGNATURE_HEADER] == signature(SECRET, req.body)
        assert req.doc["event"] == "stage.failed" and req.doc["key"] == "stage.failed:1"
        assert req.doc["details"] == {"k": "stage.failed:1"}
        await r.quiet(1)
        assert r.count("alerts_sent_total", event="stage.failed") == 1


async def test_repeats_within_the_window_are_suppressed(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        start = trio.current_time()
        r.alerter.emit(alert())
        await r.next()
        r.alerter.emit(alert())
        r.alerter.emit(alert("stage.failed:2"))  # another key goes through
        assert (await r.next()).doc["key"] == "stage.failed:2"
        await r.quiet(alerts.DEDUP_WINDOW - 10)
        assert r.count("alerts_deduplicated_total", event="stage.failed") == 1
        await trio.sleep_until(start + alerts.DEDUP_WINDOW + 1)
        r.alerter.emit(alert())  # the window has passed: news again
        assert (await r.next()).doc["key"] == "stage.failed:1"


async def test_failures_are_retried_on_the_backoff_schedule(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(script=[500, 503, Delivery(None, "ConnectError"), 200]) as r:
        r.alerter.emit(alert())
        times = [(await r.next()).at for _ in range(4)]
        gaps = [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)]
        assert gaps == [1, 2, 4]
        await r.quiet(100)
        assert r.count("alerts_sent_total", event="stage.failed") == 1
        assert r.count("alerts_failed_total", event="stage.failed") == 0


async def test_gives_up_after_max_attempts_and_forgets_the_key(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(script=[500] * alerts.MAX_ATTEMPTS) as r:
        r.alerter.emit(alert())
        times = [(await r.next()).at for _ in range(alerts.MAX_ATTEMPTS)]
        assert round(times[-1] - times[0], 6) == 1 + 2 + 4 + 8 + 16 + 32 + 60
        await r.quiet(3600)
        assert r.count("alerts_failed_total", event="stage.failed") == 1
        r.alerter.emit(alert())  # not suppressed: the first was never delivered
        assert (await r.next()).doc["key"] == "stage.failed:1"


async def test_a_client_error_is_final_and_429_honours_retry_after(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(script=[404, Delivery(429, "HTTP 429", retry_after=42.0), 200]) as r:
        r.alerter.emit(alert("a"))
        await r.next()
        await r.quiet(3600)
        assert r.count("alerts_failed_total", event="stage.failed") == 1
        r.alerter.emit(alert("b"))
        first = await r.next()
        second = await r.next()
        assert round(second.at - first.at, 6) == 42


async def test_a_silent_receiver_times_out_and_blocks_nothing_else(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(script=["hang", 200, 200]) as r:
        start = trio.current_time()
        r.alerter.emit(alert("slow"))
        r.alerter.emit(alert("fast"))
        slow, fast = await r.next(), await r.next()
        assert (slow.doc["key"], fast.doc["key"]) == ("slow", "fast")
        assert fast.at == start  # not behind the hanging request
        again = await r.next()
        assert again.doc["key"] == "slow"
        assert round(again.at - start, 6) == alerter_module.ATTEMPT_TIMEOUT + 1


async def test_emit_never_blocks_and_counts_what_it_drops() -> None:
    metrics = Metrics()
    alerter = Alerter(FakeStore(alerting()), TrioClock(), Settings(), metrics,
                      sender=None)  # not running: nothing drains the inbox
    for i in range(alerter_module.INBOX_SIZE + 5):
        alerter.emit(alert(f"k{i}"))
    assert metrics.registry.get_sample_value("alerts_dropped_total") == 5


async def test_unselected_events_and_disabled_alerting_send_nothing(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(alerting(events=["pipeline.failed"])) as r:
        r.alerter.emit(alert("w", event="worker.started"))
        r.alerter.emit(alert("p", event="pipeline.failed"))
        assert (await r.next()).doc["key"] == "p"
        r.store.config = alerting(enabled=False)
        r.alerter.config_changed()
        r.alerter.emit(alert("p2", event="pipeline.failed"))
        await r.quiet(60)


async def test_config_is_cached_briefly(autojump_clock: trio.testing.MockClock) -> None:
    async with rig(alerting(events=["pipeline.failed"])) as r:
        r.alerter.emit(alert("p1", event="pipeline.failed"))
        await r.next()
        reads = r.store.config_reads
        r.store.config = alerting(events=["worker.started"])
        r.alerter.emit(alert("w1", event="worker.started"))  # the cached config still says no
        await r.quiet(1)
        assert r.store.config_reads == reads
        await trio.sleep(alerter_module.CONFIG_TTL)
        r.alerter.emit(alert("w2", event="worker.started"))
        assert (await r.next()).doc["key"] == "w2"


def pipeline_doc(notify: bool) -> dict[str, Any]:
    return {"id": 7, "name": "orders", "applicationId": 1, "traceId": "t" * 32,
            "status": "Failed", "stages": [{
                "id": 70, "name": "charge", "stageHandlerName": "pay", "status": "Failed",
                "attempt": 1, "options": {"notifyOnFailure": notify},
                "logs": [{"message": "Failed: worker reported failure: card declined; failed"
                                     " (0 retries used)"}, {"message": "a worker log"}]}]}


async def test_notify_on_failure_without_stage_failed_selected(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(alerting(events=["worker.offline"])) as r:
        r.store.pipelines[7] = pipeline_doc(notify=False)
        r.alerter.stage_failed(7, 70)
        await r.quiet(10)
        r.store.pipelines[7] = pipeline_doc(notify=True)
        r.alerter.stage_failed(7, 70)
        req = await r.next()
        assert req.doc["event"] == "stage.failed" and req.doc["title"] == "Stage charge failed"
        assert "card declined" in req.doc["message"]
        assert req.doc["details"]["pipelineId"] == 7 and req.doc["details"]["stageId"] == 70


async def test_worker_and_pipeline_alerts_carry_names(
        autojump_clock: trio.testing.MockClock) -> None:
    async with rig(alerting(events=["worker.offline", "pipeline.failed"])) as r:
        r.store.pipelines[7] = pipeline_doc(notify=False)
        r.alerter.worker_offline("abc", "no heartbeat for 45s")
        r.alerter.pipeline_finished(7, "Failed", "stage 70 failed")
        r.alerter.pipeline_finished(7, "Cancelled", "cancelled")  # an operator's act: no alert
        worker, pipeline = (await r.next()).doc, (await r.next()).doc
        assert worker["title"] == "Worker w-abc is offline" and "host1" in worker["message"]
        assert pipeline["title"] == "Pipeline orders failed"
        assert pipeline["message"] == "Pipeline orders #7 failed: stage charge failed"
        await r.quiet(60)


async def test_backlog_is_checked_periodically(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        start = trio.current_time()
        r.store.backlog = [QueueBacklog(1, "pay", 900, TrioClock().now() - 10)]
        req = await r.next()
        assert round(req.at - start, 6) == alerter_module.BACKLOG_CHECK_INTERVAL
        assert req.doc["event"] == "queue.backlog"
        assert req.doc["details"]["queue"] == "pipelogiq.stage.1.pay"
        assert req.doc["details"]["depth"] == 900
        await r.quiet(alerts.DEDUP_WINDOW - 2 * alerter_module.BACKLOG_CHECK_INTERVAL)
