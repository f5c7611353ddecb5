"""The external API's ASGI layer (`http/lean.py`), driven through the ASGI interface directly:
the corners the e2e suite (which serves it with Hypercorn) does not reach."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pipelogiq.http.errors import ApiError
from pipelogiq.http.lean import MAX_BODY, LeanApp, Reply, Request, json_reply, text_reply
from pipelogiq.observability.logs import request_id


def _app() -> LeanApp:
    app = LeanApp(text_reply)

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

    return app


async def _call(app: LeanApp, method: str, path: str, *, query: bytes = b"",
                headers: list[tuple[bytes, bytes]] | None = None,
                chunks: list[bytes] | None = None, disconnect: bool = False,
                ) -> tuple[int, dict[bytes, bytes], bytes] | None:
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks or [b""]) - 1}
        for i, c in enumerate(chunks or [b""])]
    if disconnect:
        incoming = incoming[:1] + [{"type": "http.disconnect"}]
        incoming[0]["more_body"] = True
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": headers or [], "client": ("127.0.0.1", 5000)}
    await app(scope, receive, send)
    if not sent:
        return None
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


async def test_routes_args_headers_and_request_id() -> None:
    r = await _call(_app(), "GET", "/thing", query=b"a=1&a=2&b=x%20y",
                    headers=[(b"authorization", b"Bearer t"), (b"x-request-id", b"abc-1")])
    assert r is not None
    status, headers, body = r
    assert status == 200 and headers[b"x-request-id"] == b"abc-1"
    assert body == b'{"args":{"a":"1","b":"x y"},"rid":"abc-1","auth":"Bearer t"}'
    assert request_id.get() is None  # not left behind for the next request on the task


async def test_head_and_options_come_with_get() -> None:
    head = await _call(_app(), "HEAD", "/thing")
    assert head is not None and head[0] == 200 and head[2] == b""
    assert int(head[1][b"content-length"]) > 0  # the GET's length, as HEAD promises
    options = await _call(_app(), "OPTIONS", "/thing")
    assert options is not None and options[0] == 200
    assert options[1][b"allow"] == b"GET, HEAD, OPTIONS"


async def test_unknown_path_is_404_and_wrong_method_405_with_allow() -> None:
    missing = await _call(_app(), "GET", "/nope")
    assert missing is not None and missing[0] == 404
    assert missing[1][b"content-type"].startswith(b"text/plain") and missing[2].endswith(b"\n")
    wrong = await _call(_app(), "POST", "/thing", chunks=[b"{}"])
    assert wrong is not None and wrong[0] == 405 and wrong[1][b"allow"] == b"GET, HEAD, OPTIONS"


async def test_body_arrives_whole_from_chunks() -> None:
    r = await _call(_app(), "POST", "/echo", chunks=[b"ab", b"", b"cd"])
    assert r is not None and r[2] == b"abcd"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_body_over_the_limit_is_413_and_never_reaches_the_handler(declared: bool) -> None:
    headers = [(b"content-length", str(MAX_BODY + 1).encode())] if declared else []
    big = [b"x" * (MAX_BODY // 2)] * 3
    r = await _call(_app(), "POST", "/echo", headers=headers, chunks=big)
    assert r is not None and r[0] == 413 and b"larger than" in r[2]


async def test_errors_are_rendered_and_a_crash_is_logged_as_500(
        caplog: pytest.LogCaptureFixture) -> None:
    r = await _call(_app(), "POST", "/fail")
    assert r is not None and r[0] == 409 and r[2] == b"no such luck\n"
    with caplog.at_level(logging.ERROR, "pipelogiq.http"):
        r = await _call(_app(), "POST", "/crash")
    assert r is not None and r[0] == 500 and r[2] == b"internal error\n"
    assert "unhandled error on POST /crash" in caplog.text and "boom" in caplog.text


async def test_a_client_gone_mid_body_gets_no_answer_and_runs_nothing() -> None:
    assert await _call(_app(), "POST", "/crash", chunks=[b"{"], disconnect=True) is None


async def test_lifespan_is_acknowledged() -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await _app()({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
