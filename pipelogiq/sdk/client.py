"""Clients of the external API for applications: create pipelines, send application logs.

:class:`Client` is blocking (``httpx.Client``); :class:`AsyncClient` is its async twin
(``httpx.AsyncClient``) and runs under Trio or asyncio.

Example::

    from pipelogiq.sdk import Client, Stage

    with Client("http://127.0.0.1:8081", api_key) as client:
        pipeline = client.create_pipeline(
            "order-42",
            [Stage("fetch", "fetch", input={"orderId": 42}), Stage("notify", "notify")],
            keywords={"customer": "acme"},
            context={"region": "eu"},
        )
        print(pipeline["id"], pipeline["status"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from ._wire import (
    USER_AGENT,
    ContextArg,
    JSONDict,
    KeywordsArg,
    Stage,
    json_body,
    log_body,
    pipeline_body,
    raise_for_status,
)

__all__ = ["AsyncClient", "Client"]

StagesArg = Sequence[Stage | Mapping[str, Any]]


def _headers(api_key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"X-API-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(extra or {})
    return headers


class Client:
    """Blocking client of the external API, authenticated by an application API key.

    Non-2xx answers raise :class:`~pipelogiq.sdk.PipelogiqError` (:class:`~pipelogiq.sdk.AuthError`
    for 401/403); network failures raise :class:`httpx.TransportError`. Use it as a context
    manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    def create_pipeline(
        self,
        name: str,
        stages: StagesArg,
        *,
        keywords: KeywordsArg = None,
        context: ContextArg = None,
        trace_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSONDict:
        """Create a pipeline (``POST /pipelines``) and return it as the server answered (§4.1).

        ``stages`` are :class:`Stage` objects or camelCase stage dicts. ``keywords`` is a
        ``{key: value}`` dict or a list of ``{"key", "value"}``; ``context`` a ``{key: value}``
        dict or a list of ``{"key", "value", "valueType"}``. The same ``idempotency_key`` again
        returns the first pipeline instead of creating a second.
        """
        body = pipeline_body(
            name,
            stages,
            keywords=keywords,
            context=context,
            trace_id=trace_id,
            idempotency_key=idempotency_key,
        )
        return self._post("/pipelines", body)

    def send_log(
        self, message: str, level: str = "Information", keywords: KeywordsArg = None
    ) -> JSONDict:
        """Record an application log line (``POST /logs``)."""
        return self._post("/logs", log_body(message, level, keywords))

    def _post(self, path: str, body: JSONDict) -> JSONDict:
        response = self._http.post(path, json=body)
        raise_for_status(response)
        return json_body(response)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """Async client of the external API (Trio or asyncio); the twin of :class:`Client`.

    Use it as an async context manager, or call :meth:`aclose`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    async def create_pipeline(
        self,
        name: str,
        stages: StagesArg,
        *,
        keywords: KeywordsArg = None,
        context: ContextArg = None,
        trace_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSONDict:
        """Create a pipeline; see :meth:`Client.create_pipeline`."""
        body = pipeline_body(
            name,
            stages,
            keywords=keywords,
            context=context,
            trace_id=trace_id,
            idempotency_key=idempotency_key,
        )
        return await self._post("/pipelines", body)

    async def send_log(
        self, message: str, level: str = "Information", keywords: KeywordsArg = None
    ) -> JSONDict:
        """Record an application log line (``POST /logs``)."""
        return await self._post("/logs", log_body(message, level, keywords))

    async def _post(self, path: str, body: JSONDict) -> JSONDict:
        response = await self._http.post(path, json=body)
        raise_for_status(response)
        return json_body(response)

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
