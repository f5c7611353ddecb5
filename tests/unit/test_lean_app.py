"""The external API's HTTP layer (`http/h1.py` serving a `http/lean.py` app), driven over
in-memory streams with raw HTTP/1.1: the corners the e2e suite (which runs it on real sockets
in the server process) does not reach. One test serves real TCP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h11
import httpx
import pytest
import trio
import trio.testing

from pipelogiq.http import h1
from pipelogiq.http.errors import ApiError
from pipelogiq.http.h1 import H1Server, serve_h1
from pipelogiq.http.lean import MAX_BODY, LeanApp, Reply, Request, json_reply, text_reply
from pipelogiq.observability.logs import request_id


class Probe:
    def __init__(self) -> None:
        self.entered = trio.Event()
        self.left = trio.Event()
        self.release = trio.Event()
        self.cancelled = False


def _app(probe: Probe | None = None) -> LeanApp:
    app = LeanApp(text_reply)
    probe = probe or Probe()

    @app.get("/thing")
    async def thing(req: Request) -> Reply:
        return json_reply({"args": req.args, "rid": request_id.get(),
                           "auth": req.headers.get("AUTHORIZATION")})

    @app.post("/echo")
    async def echo(req: Request) -> Reply:
        return Reply(200, req.body, "application/octet-stream")

    @app.post("/fail")
    async def fail(req: Request) -> Reply:
        raise ApiError(409, "no such luck")

    @app.post("/crash")
    async def crash(req: Request) -> Reply:
        raise RuntimeError("boom")

    @app.post("/wait", waits=True)
    async def wait(req: Request) -> Reply:
        probe.entered.set()
        try:
            await probe.release.wait()
        except trio.Cancelled:
            probe.cancelled = True
            raise
        finally:
            probe.left.set()
        return json_reply({"waited": True})

    return app


class Client:
    """Raw HTTP/1.1 over one in-memory connection to an `H1Server`."""

    def __init__(self, stream: trio.StapledStream[Any, Any]) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def request(self, method: str, target: str, body: bytes = b"",
                      headers: list[tuple[str, str]] | None = None) -> None:
        hs = [("host", "test")] + (headers or [])
        if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hs):
            hs.append(("content-length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=hs))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def response(self, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        if self.conn.our_state is h11.IDLE:  # the request went raw: tell the parser about it
            self.conn.send(h11.Request(method=method, target="/", headers=[("host", "t")]))
            self.conn.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(bytes(await self.stream.receive_some(65536)))
                continue
            if isinstance(event, h11.InformationalResponse):
                status = event.status_code
                return status, {}, b""
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
                    self.conn.start_next_cycle()
                return status, headers, body
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def closed(self) -> bool:
        """The server closed the connection (nothing more comes)."""
        return bytes(await self.stream.receive_some(65536)) == b""


@asynccontextmanager
async def connected(app: LeanApp, server: H1Server | None = None) -> AsyncIterator[Client]:
    server = server or H1Server(app)
    client_side, server_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.connection, server_side)
        yield Client(client_side)
        await client_side.aclose()


async def test_keep_alive_args_headers_and_request_id() -> None:
    async with connected(_app()) as c:
        await c.request("GET", "/thing?a=1&a=2&b=x%20y",
                        headers=[("Authorization", "Bearer t"), ("X-Request-Id", "abc-1")])
        status, headers, body = await c.response()
        assert status == 200 and headers["x-request-id"] == "abc-1" and "date" in headers
        assert body == b'{"args":{"a":"1","b":"x y"},"rid":"abc-1","auth":"Bearer t"}'
        await c.request("GET", "/thing", headers=[("X-Request-Id", "not ok; evil")])
        status, headers, _ = await c.response()  # the same connection, a fresh id
        assert status == 200 and len(headers["x-request-id"]) == 32
    assert request_id.get() is None


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with connected(_app()) as c:
        raw = b"".join(
            f"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\n{n}{n}".encode()
            for n in range(3))
        await c.send_raw(raw)
        assert [(await c.response())[2] for _ in range(3)] == [b"00", b"11", b"22"]


async def test_head_options_404_and_405() -> None:
    async with connected(_app()) as c:
        await c.request("HEAD", "/thing")
        status, headers, body = await c.response()
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0
        await c.request("OPTIONS", "/thing")
        status, headers, _ = await c.response()
        assert status == 200 and headers["allow"] == "GET, HEAD, OPTIONS"
        await c.request("GET", "/nope")
        status, headers, body = await c.response()
        assert status == 404 and headers["content-type"].startswith("text/plain")
        await c.request("POST", "/thing", b"{}")
        status, headers, _ = await c.response()
        assert status == 405 and headers["allow"] == "GET, HEAD, OPTIONS"
        await c.request("GET", "/thing")  # still usable after the rejected body
        assert (await c.response())[0] == 200


async def test_a_chunked_body_arrives_whole() -> None:
    async with connected(_app()) as c:
        await c.send_raw(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
                         b"2\r\nab\r\n0\r\n\r\n")
        assert (await c.response())[2] == b"ab"


async def test_a_body_over_the_limit_is_413_and_the_connection_goes_on() -> None:
    async with connected(_app()) as c:
        await c.request("POST", "/echo", b"x" * (MAX_BODY + 1))
        status, headers, body = await c.response()
        assert status == 413 and b"larger than" in body and "connection" not in headers
        big = b"y" * (MAX_BODY // 2)
        await c.send_raw(b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
                         + b"".join(b"%x\r\n%s\r\n" % (len(big), big) for _ in range(3))
                         + b"0\r\n\r\n")
        status, _, _ = await c.response()
        assert status == 413
        await c.request("POST", "/echo", b"ok")
        status, _, body = await c.response()
        assert (status, body) == (200, b"ok")


async def test_a_huge_declared_body_is_refused_at_once_and_the_connection_closed() -> None:
    async with connected(_app()) as c:
        await c.send_raw(b"POST /echo HTTP/1.1\r\nhost: t\r\n"
                         b"content-length: %d\r\n\r\n" % (h1.DRAIN_MAX + 1))
        status, headers, _ = await c.response()
        assert status == 413 and headers["connection"] == "close"
        assert await c.closed()


async def test_expect_100_continue() -> None:
    async with connected(_app()) as c:
        await c.send_raw(b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n"
                         b"expect: 100-continue\r\n\r\n")
        assert (await c.response())[0] == 100
        await c.send_raw(b"hi")
        status, _, body = await c.response()
        assert (status, body) == (200, b"hi")


async def test_a_malformed_request_is_400_and_closes() -> None:
    async with connected(_app()) as c:
        await c.send_raw(b"NOT HTTP AT ALL\r\n\r\n")
        data = await c.stream.receive_some(65536)
        assert data.startswith(b"HTTP/1.1 400") and b"malformed HTTP request" in data
        assert await c.closed()


async def test_an_oversized_head_is_refused() -> None:
    async with connected(_app()) as c:
        await c.send_raw(b"GET /thing HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * h1.MAX_HEAD)
        data = await c.stream.receive_some(65536)
        assert data.startswith(b"HTTP/1.1 431") or data.startswith(b"HTTP/1.1 400")


async def test_errors_are_rendered_and_a_crash_is_logged_as_500(
        caplog: pytest.LogCaptureFixture) -> None:
    async with connected(_app()) as c:
        await c.request("POST", "/fail")
        status, _, body = await c.response()
        assert (status, body) == (409, b"no such luck\n")
        with caplog.at_level(logging.ERROR, "pipelogiq.http"):
            await c.request("POST", "/crash")
            status, _, body = await c.response()
        assert (status, body) == (500, b"internal error\n")
        assert "unhandled error on POST /crash" in caplog.text and "boom" in caplog.text


async def test_a_client_leaving_cancels_its_long_poll() -> None:
    probe = Probe()
    async with connected(_app(probe)) as c:
        await c.request("POST", "/wait")
        await probe.entered.wait()
        await c.stream.send_stream.aclose()  # the client hangs up
        await probe.left.wait()
    assert probe.cancelled


async def test_an_idle_connection_closes_after_keep_alive(autojump_clock: Any) -> None:
    async with connected(_app()) as c:
        await c.request("GET", "/thing")
        assert (await c.response())[0] == 200
        start = trio.current_time()
        assert await c.closed()
        assert trio.current_time() - start == pytest.approx(h1.KEEP_ALIVE)


async def test_drain_closes_idle_connections_and_lets_a_request_finish() -> None:
    probe = Probe()
    app = _app(probe)
    server = H1Server(app)
    async with connected(app, server) as idle, connected(app, server) as busy:
        await busy.request("POST", "/wait")
        await probe.entered.wait()
        await idle.request("GET", "/thing")
        assert (await idle.response())[0] == 200
        await trio.testing.wait_all_tasks_blocked()
        server.drain()
        assert await idle.closed()  # idle: closed at once
        probe.release.set()
        status, _, body = await busy.response()  # in flight: answered, then closed
        assert (status, body) == (200, b'{"waited":true}')
        assert await busy.closed()


async def test_serve_h1_on_tcp_reports_its_url_and_stops_on_the_trigger() -> None:
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        (url,) = await nursery.start(lambda task_status: serve_h1(
            _app(), ("127.0.0.1", 0), shutdown_trigger=stop.wait, graceful_timeout=5,
            task_status=task_status))
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        async with httpx.AsyncClient(base_url=url) as client:
            r = await client.get("/thing", params={"q": "1"})
            assert r.status_code == 200 and r.json()["args"] == {"q": "1"}
            stop.set()
    with pytest.raises(httpx.ConnectError):  # nothing listens any more
        async with httpx.AsyncClient(base_url=url) as client:
            await client.get("/thing")
