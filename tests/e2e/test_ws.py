"""`/ws` (SPEC §7): cookie auth and Origin check, one frame per change scoped to the user's
applications, slow clients dropped by the hub, 1001 on shutdown. Real sockets throughout
(trio-websocket against the served app); waits are on frames, `fail_after` only guards hangs."""

from __future__ import annotations

import functools
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
    wrap_client_stream,
)

import pipelogiq.http.ws
import pipelogiq.security
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, make_settings
from pipelogiq.actors.hub import SUBSCRIPTION_LIMIT, Hub
from pipelogiq.app import Running, run_server

Doc = dict[str, Any]
HANG_GUARD = 10


def ws_url(running: Running) -> str:
    return running.internal_url.replace("http://", "ws://", 1) + "/ws"


def cookie_of(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    return [("Cookie", f"authKey={client.cookies['authKey']}")]


@asynccontextmanager
async def open_ws(running: Running, headers: list[tuple[str, str]]
                  ) -> AsyncIterator[WebSocketConnection]:
    async with open_websocket_url(ws_url(running), extra_headers=headers) as ws:
        yield ws


async def frame_for(ws: WebSocketConnection, pid: int,
                    done: Callable[[Doc], bool] = lambda d: True) -> Doc:
    """The next frame of pipeline `pid` whose content satisfies `done`; others are skipped."""
    with trio.fail_after(HANG_GUARD):
        while True:
            message = json.loads(await ws.get_message())
            assert message["type"] == "pipeline"
            doc: Doc = message["pipeline"]
            if doc["id"] == pid and done(doc):
                return doc


class Notes:
    """Every notification the hub publishes, counted per pipeline (a plain subscription,
    which does not coalesce): proves each kind of change reaches the hub, which a frame alone
    cannot when the follow-up change of the same pipeline would produce it too."""

    def __init__(self, hub: Hub) -> None:
        self._changes = hub.subscribe()
        self.counts: Counter[int] = Counter()

    async def reach(self, pid: int, n: int) -> None:
        with trio.fail_after(HANG_GUARD):
            while self.counts[pid] < n:
                self.counts[await self._changes.receive()] += 1


def st(doc: Doc, i: int) -> str:
    return str(doc["stages"][i]["status"])


async def act(api: Api, action: str, **body: Any) -> Doc:
    r = await api.internal.post(f"/api/pipelines/{action}", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def pull_token(api: Api, handler: str) -> str:
    r = await api.pull(handler, wait=5)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


# -- refused connections -----------------------------------------------------------------

@pytest.mark.parametrize("headers", [[], [("Cookie", "authKey=not-a-jwt")]],
                         ids=["no-cookie", "bad-cookie"])
async def test_refused_without_a_valid_cookie(api: Api, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(ConnectionRejected) as refused:
        async with open_ws(api.running, headers):
            pass
    assert refused.value.status_code == 401


async def test_refused_from_a_foreign_origin(api: Api) -> None:
    with pytest.raises(ConnectionRejected) as refused:
        async with open_ws(api.running,
                           [*cookie_of(api.internal), ("Origin", "https://evil.example")]):
            pass
    assert refused.value.status_code == 403
    # The dashboard's own origin is fine.
    own = [*cookie_of(api.internal), ("Origin", api.running.internal_url)]
    async with open_ws(api.running, own) as ws:
        p = await api.create([{"stageName": "a", "stageHandlerName": "oa"}])
        await frame_for(ws, p["id"])


# -- one frame per change -------------------------------------------------------------------

async def test_a_frame_for_every_kind_of_change(api: Api) -> None:
    notes = Notes(api.running.services.hub)
    async with open_ws(api.running, cookie_of(api.internal)) as ws:
        p = await api.create([
            {"stageName": "a", "stageHandlerName": "wa",
             "options": {"maxRetries": 1, "retryInterval": 3600}},
            {"stageName": "b", "stageHandlerName": "wb"}])
        pid, (a, b) = p["id"], [s["id"] for s in p["stages"]]

        # creation, with the first stage's dispatch in the same commit (one notification)
        doc = await frame_for(ws, pid, lambda d: st(d, 0) == "Pending")
        assert doc["status"] == "Running" and st(doc, 1) == "NotStarted"
        assert doc["applicationId"] == api.application_id and doc["name"] == "p"
        await notes.reach(pid, 1)

        # delivery
        token = await pull_token(api, "wa")
        doc = await frame_for(ws, pid, lambda d: st(d, 0) == "Running")
        await notes.reach(pid, 2)

        # a failed result with a retry left: RetryScheduled (an hour away, so nothing follows)
        assert (await api.ack(token, isSuccess=False, result="bad")).status_code == 200
        doc = await frame_for(ws, pid, lambda d: st(d, 0) == "RetryScheduled")
        assert doc["stages"][0]["attempt"] == 2  # the next attempt, scheduled
        await notes.reach(pid, 3)

        # retry now: the operator action, then the retry's dispatch
        await act(api, "retryNow", stageId=a)
        doc = await frame_for(ws, pid, lambda d: st(d, 0) == "Pending"
                              and d["stages"][0]["attempt"] == 2)
        await notes.reach(pid, 5)

        token = await pull_token(api, "wa")
        await frame_for(ws, pid, lambda d: st(d, 0) == "Running")
        await notes.reach(pid, 6)

        # a successful result, with the next stage's dispatch in the same commit
        assert (await api.ack(token, isSuccess=True, result="done")).status_code == 200
        doc = await frame_for(ws, pid, lambda d: st(d, 0) == "Completed" and st(d, 1) == "Pending")
        assert doc["stages"][0]["output"] == "done"
        await notes.reach(pid, 7)

        # skip the pending stage: the action, then the pipeline completes
        await act(api, "skipStage", stageId=b)
        doc = await frame_for(ws, pid, lambda d: d["status"] == "Completed")
        assert [s["status"] for s in doc["stages"]] == ["Completed", "Skipped"]
        await notes.reach(pid, 9)

        # rerun the first stage: the action, then its dispatch
        await act(api, "rerunStage", stageId=a)
        doc = await frame_for(ws, pid, lambda d: d["status"] == "Running"
                              and st(d, 0) == "Pending" and d["stages"][0]["attempt"] == 3)
        await notes.reach(pid, 11)

        # cancel
        await act(api, "cancel", pipelineId=pid)
        doc = await frame_for(ws, pid, lambda d: d["status"] == "Cancelled")
        assert [s["status"] for s in doc["stages"]] == ["Cancelled", "Skipped"]
        await notes.reach(pid, 12)


async def test_watchdog_decisions_make_frames(tmp_path: Path) -> None:
    """A lapsed lease goes back on the queue and a job nobody takes fails: both are the
    watchdog's, both reach the socket. Real (short) durations: the watchdog runs on the
    system clock here."""
    settings = make_settings(tmp_path, job_lease=0.5, stage_pending_timeout=1.0)
    closing = trio.Event()
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(functools.partial(
            run_server, settings, closing=closing))
        try:
            async with httpx.AsyncClient(base_url=running.internal_url) as internal, \
                    httpx.AsyncClient(base_url=running.external_url) as ext:
                api = await Api(running, internal, ext).setup()
                notes = Notes(running.services.hub)
                async with open_ws(running, cookie_of(internal)) as ws:
                    p = await api.create([{"stageName": "a", "stageHandlerName": "dog"}])
                    pid = p["id"]
                    await pull_token(api, "dog")
                    await frame_for(ws, pid, lambda d: st(d, 0) == "Running")
                    await notes.reach(pid, 2)  # creation with its dispatch, delivery
                    # lease lapsed: reclaimed, a new attempt pending
                    await frame_for(ws, pid, lambda d: st(d, 0) == "Pending"
                                    and d["stages"][0]["attempt"] == 2)
                    await notes.reach(pid, 3)
                    # nobody took it: failed, and so the pipeline
                    doc = await frame_for(ws, pid, lambda d: d["status"] == "Failed")
                    assert st(doc, 0) == "Failed"
                    await notes.reach(pid, 5)
        finally:
            closing.set()


# -- scoping ----------------------------------------------------------------------------------

async def new_app(api: Api, name: str) -> int:
    r = await api.internal.post("/api/applications", json={"name": name})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def add_member(api: Api, uid: int, app_id: int) -> None:
    await api.running.services.store.run(lambda c: c.execute(
        "INSERT INTO user_applications (user_id, application_id) VALUES (?, ?)", (uid, app_id)))


@asynccontextmanager
async def regular_user(api: Api, *app_ids: int) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    """A logged-in RegularUser, member of `app_ids` only."""
    uid = await api.running.services.store.create_user(
        "ops@example.com", "Ops", "RegularUser",
        pipelogiq.security.hash_password("ops-password-123"))
    assert uid is not None
    for app_id in app_ids:
        await add_member(api, uid, app_id)
    async with httpx.AsyncClient(base_url=api.running.internal_url) as ops:
        login = await ops.post("/api/auth/login",
                               json={"email": "ops@example.com", "password": "ops-password-123"})
        assert login.status_code == 200, login.text
        yield uid, ops


async def create_in(api: Api, key: str, name: str, handler: str = "sa") -> Doc:
    r = await api.external.post("/pipelines", headers=api.key(key), json={
        "name": name, "stages": [{"stageName": "a", "stageHandlerName": handler}]})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_frames_are_scoped_to_the_users_applications(api: Api) -> None:
    other_app = await new_app(api, "other-app")
    other_key = await api.new_key(other_app)
    async with regular_user(api, other_app) as (_, ops):
        async with open_ws(api.running, cookie_of(ops)) as ops_ws, \
                open_ws(api.running, cookie_of(api.internal)) as admin_ws:
            mine = await api.create([{"stageName": "a", "stageHandlerName": "sa"}])
            theirs = await create_in(api, other_key, "theirs")
            # The admin sees both; the other user only theirs. Frames go out in the order of
            # the changes, so a leaked frame of `mine` would come before `theirs`.
            await frame_for(admin_ws, mine["id"])
            with trio.fail_after(HANG_GUARD):
                message = json.loads(await ops_ws.get_message())
            assert message["pipeline"]["id"] == theirs["id"]
            assert message["pipeline"]["applicationId"] == other_app
            # The rest of the first pipeline's life stays invisible too.
            assert (await api.ack(await pull_token(api, "sa"))).status_code == 200
            await frame_for(admin_ws, mine["id"], lambda d: d["status"] == "Completed")
            marker = await create_in(api, other_key, "marker", "m")
            seen = []
            with trio.fail_after(HANG_GUARD):
                while not seen or seen[-1] != marker["id"]:
                    seen.append(json.loads(await ops_ws.get_message())["pipeline"]["id"])
            assert mine["id"] not in seen


async def test_membership_is_reread_and_an_ended_session_closes(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipelogiq.http.ws, "USER_REFRESH", 0.0)  # re-read before every frame
    first, second = await new_app(api, "first"), await new_app(api, "second")
    first_key, second_key = await api.new_key(first), await api.new_key(second)
    async with regular_user(api, first) as (uid, ops), \
            open_ws(api.running, cookie_of(ops)) as ws:
        await add_member(api, uid, second)  # after the socket opened
        p = await create_in(api, second_key, "now-visible")
        assert (await frame_for(ws, p["id"]))["applicationId"] == second
        await api.running.services.store.run(lambda c: c.execute(
            "UPDATE users SET disabled_at = 1 WHERE id = ?", (uid,)))
        hidden = await create_in(api, first_key, "after-disable")
        seen = []
        with trio.fail_after(HANG_GUARD), pytest.raises(ConnectionClosed) as closed:
            while True:  # what was queued before the user was disabled, then the close
                seen.append(json.loads(await ws.get_message())["pipeline"]["id"])
        assert closed.value.reason.code == 1008
        assert hidden["id"] not in seen


async def test_an_error_closes_with_1011_and_is_logged(
        api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(pipeline_id: int, **_: Any) -> Doc:
        raise RuntimeError("the store is gone")

    async with open_ws(api.running, cookie_of(api.internal)) as ws:
        monkeypatch.setattr(api.running.services.store, "pipeline_json", broken)
        api.running.services.hub.pipeline_changed(1)
        with trio.fail_after(HANG_GUARD), pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason.code == 1011
    assert any(r.name == "pipelogiq.ws" and r.levelname == "ERROR" for r in caplog.records)


# -- the hub's coalescing subscription -----------------------------------------------------

async def test_subscription_coalesces_and_is_dropped_when_full() -> None:
    hub = Hub(limit=3)
    with hub.subscription() as sub:
        for pid in (1, 2, 1, 1, 3, 2):  # six changes of three pipelines fit in three
            hub.pipeline_changed(pid)
        assert [await sub.receive() for _ in range(3)] == [1, 2, 3]
        for pid in (4, 5, 6, 7):  # a fourth pipeline does not
            hub.pipeline_changed(pid)
        assert sub.dropped and hub.dropped == 1 and len(hub) == 0
        with pytest.raises(trio.EndOfChannel):
            await sub.receive()
    with hub.subscription() as closed_by_hub:
        hub.close()
        with pytest.raises(trio.EndOfChannel):
            await closed_by_hub.receive()
        assert not closed_by_hub.dropped


async def test_subscription_wakes_its_reader(nursery: trio.Nursery) -> None:
    hub = Hub()
    got: list[int] = []
    with hub.subscription() as sub:
        done = trio.Event()

        async def read() -> None:
            got.append(await sub.receive())
            done.set()

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        hub.pipeline_changed(7)
        with trio.fail_after(HANG_GUARD):
            await done.wait()
    assert got == [7] and len(hub) == 0


# -- slow subscribers -------------------------------------------------------------------------

class Reader:
    """Reads a socket continuously, keeping the latest frame of each pipeline."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.latest: dict[int, Doc] = {}
        self._changed = trio.Event()

    async def run(self) -> None:
        while True:
            doc = json.loads(await self.ws.get_message())["pipeline"]
            self.latest[doc["id"]] = doc
            self._changed.set()
            self._changed = trio.Event()

    async def wait(self, pid: int) -> Doc:
        with trio.fail_after(HANG_GUARD):
            while pid not in self.latest:
                await self._changed.wait()
        return self.latest[pid]


def send_buffer_max() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 2**20


@asynccontextmanager
async def open_slow(running: Running, headers: list[tuple[str, str]]
                    ) -> AsyncIterator[WebSocketConnection]:
    """A client that reads nothing (the test reads later), on a socket with a tiny receive
    buffer, so the server's writes stall once its own send buffer is full. Leaving closes
    the TCP stream outright: a server write stalled on it cannot be cancelled (Hypercorn
    shields writes), so a failing test must not leave it open."""
    url = urlsplit(running.internal_url)
    assert url.hostname is not None and url.port is not None
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stream = trio.SocketStream(sock)
    try:
        await sock.connect((url.hostname, url.port))
        async with trio.open_nursery() as nursery:
            yield await wrap_client_stream(nursery, stream, url.hostname, "/ws",
                                           extra_headers=headers)
            nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


async def test_a_slow_subscriber_is_dropped_and_closed(api: Api) -> None:
    hub = api.running.services.hub
    headers = cookie_of(api.internal)
    async with open_ws(api.running, headers) as normal, trio.open_nursery() as nursery, \
            open_slow(api.running, headers) as slow:
        reader = Reader(normal)
        nursery.start_soon(reader.run)
        # More frames than the kernel buffers hold between the server and a client that
        # does not read (the server's send buffer autotunes up to tcp_wmem's maximum, the
        # client holds about two messages): its writer stalls...
        big = "x" * 500_000
        for i in range((send_buffer_max() + 3 * 2**20) // len(big) + 1):
            await api.create([{"stageName": "big", "stageHandlerName": "big", "input": big}],
                             name=f"big-{i}")
        # ... and then more pipelines change than its subscription holds: dropped.
        small = [await api.create([{"stageName": "s", "stageHandlerName": "small"}],
                                  name=f"small-{i}") for i in range(SUBSCRIPTION_LIMIT + 10)]
        for p in small:
            await reader.wait(p["id"])  # the normal reader saw every change of every one...
        assert hub.dropped == 1  # ... and only the slow one was dropped
        assert len(hub) == 1

        # Once the slow client reads, it gets what was sent, then the close: try again later.
        with trio.fail_after(HANG_GUARD), pytest.raises(ConnectionClosed) as closed:
            while True:
                await slow.get_message()
        assert closed.value.reason.code == 1013

        # The normal subscriber goes on.
        after = await api.create([{"stageName": "s", "stageHandlerName": "small"}], name="after")
        assert (await reader.wait(after["id"]))["name"] == "after"
        nursery.cancel_scope.cancel()


# -- shutdown -----------------------------------------------------------------------------------

async def test_shutdown_closes_every_socket_with_1001(tmp_path: Path) -> None:
    closing = trio.Event()
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(functools.partial(
            run_server, make_settings(tmp_path), closing=closing))
        try:
            async with httpx.AsyncClient(base_url=running.internal_url) as internal:
                r = await internal.post("/api/auth/login", json={
                    "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
                assert r.status_code == 200, r.text
                headers = cookie_of(internal)

            async def client(task_status: trio.TaskStatus[None]) -> None:
                async with open_ws(running, headers) as ws:
                    task_status.started()
                    try:
                        await ws.get_message()
                    except ConnectionClosed as exc:
                        codes.append(exc.reason.code)

            async with trio.open_nursery() as clients:
                for _ in range(3):
                    await clients.start(client)
                start = trio.current_time()
                closing.set()
        finally:
            closing.set()
    # run_server returned: the sockets did not hold the HTTP servers until their grace ran out.
    assert codes == [1001, 1001, 1001]
    assert trio.current_time() - start < 3
