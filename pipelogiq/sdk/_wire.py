"""Wire forms of the external API: request bodies, value encoding and error mapping.

Everything here is pure (no I/O), so the blocking and async clients and the worker share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TypeAlias

import attrs
import httpx

from ._errors import AuthError, PipelogiqError

JSONDict: TypeAlias = dict[str, Any]
KeywordsArg: TypeAlias = Mapping[str, Any] | Iterable[Mapping[str, Any]] | None
"""Keywords: ``{"key": "value"}`` or a list of ``{"key", "value"}`` dicts."""
ContextArg: TypeAlias = Mapping[str, Any] | Iterable[Mapping[str, Any]] | None
"""Context items: ``{"key": value}`` or a list of ``{"key", "value", "valueType"?}`` dicts."""


def _sdk_version() -> str:
    try:
        return metadata.version("pipelogiq")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


SDK_VERSION = _sdk_version()
USER_AGENT = f"pipelogiq-python-sdk/{SDK_VERSION}"

_LEVELS = {
    "trace": "Trace",
    "debug": "Debug",
    "info": "Information",
    "information": "Information",
    "warn": "Warning",
    "warning": "Warning",
    "error": "Error",
    "critical": "Critical",
    "fatal": "Critical",
}


def normalise_level(level: str) -> str:
    """Map a level name to the server's (``Trace``, ``Debug``, ``Information``, ``Warning``,
    ``Error``, ``Critical``), accepting Python-style names (``info``, ``warn``…).

    Unknown names become ``Information``: the server rejects a whole ack over one bad level.
    """
    return _LEVELS.get(str(level).strip().lower(), "Information")


MAX_TEXT = 60_000
"""Longest log message or error text sent; longer ones are cut (the server caps them)."""


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 20] + " …[truncated]"


def to_text(value: Any) -> str:
    """A value as the string the API stores: strings as-is, bytes decoded, the rest JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return json.dumps(value, ensure_ascii=False)


def rfc3339_now() -> str:
    """The current UTC time in RFC 3339 form with a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def keyword_items(keywords: KeywordsArg) -> list[JSONDict]:
    """``{"k": "v"}`` or ``[{"key", "value"}]`` → ``[{"key": "k", "value": "v"}]``."""
    if keywords is None:
        return []
    if isinstance(keywords, Mapping):
        return [{"key": str(k), "value": to_text(v)} for k, v in keywords.items()]
    items: list[JSONDict] = []
    for item in keywords:
        if "key" not in item:
            raise ValueError(f"keyword item without a 'key': {item!r}")
        items.append({"key": str(item["key"]), "value": to_text(item.get("value", ""))})
    return items


def context_items(context: ContextArg) -> list[JSONDict]:
    """``{"k": v}`` or a list of item dicts → ``[{"key", "value", "valueType"}]``.

    Non-string values are JSON-encoded; ``valueType`` defaults to ``"string"``.
    """
    if context is None:
        return []
    if isinstance(context, Mapping):
        return [
            {"key": str(k), "value": to_text(v), "valueType": "string"} for k, v in context.items()
        ]
    items: list[JSONDict] = []
    for item in context:
        if "key" not in item:
            raise ValueError(f"context item without a 'key': {item!r}")
        out = dict(item)
        out["key"] = str(item["key"])
        out["value"] = to_text(item.get("value", ""))
        out.setdefault("valueType", "string")
        items.append(out)
    return items


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_OPTION_ALIASES = {"timeout": "timeOut", "time_out": "timeOut"}


def stage_options(options: Mapping[str, Any]) -> JSONDict:
    """Stage options with snake_case keys (``max_retries``) turned into the camelCase wire keys."""
    return {_OPTION_ALIASES.get(k, _camel(k)): v for k, v in options.items() if v is not None}


@attrs.define
class Stage:
    """One stage of a pipeline to create.

    ``input`` is sent as a string: dicts, lists and other non-string values are JSON-encoded.
    ``options`` takes the stage options (``retryInterval``, ``maxRetries``, ``timeOut``,
    ``runNextIfFailed``, ``failIfOutputEmpty``, ``notifyOnFailure``, ``runAsUser``), in camelCase
    or snake_case.
    """

    name: str
    handler: str
    description: str | None = None
    input: Any = None
    is_event: bool = False
    options: Mapping[str, Any] | None = None

    def to_wire(self) -> JSONDict:
        """The camelCase stage dict of ``POST /pipelines``."""
        body: JSONDict = {"stageName": self.name, "stageHandlerName": self.handler}
        if self.description is not None:
            body["description"] = self.description
        if self.input is not None:
            body["input"] = to_text(self.input)
        if self.is_event:
            body["isEvent"] = True
        if self.options:
            body["options"] = stage_options(self.options)
        return body


def stage_wire(stage: Stage | Mapping[str, Any]) -> JSONDict:
    """A :class:`Stage` or a plain (already camelCase) stage dict, as sent on the wire."""
    if isinstance(stage, Stage):
        return stage.to_wire()
    body = {k: v for k, v in stage.items() if v is not None}
    if "input" in body:
        body["input"] = to_text(body["input"])
    return body


def pipeline_body(
    name: str,
    stages: Sequence[Stage | Mapping[str, Any]],
    *,
    keywords: KeywordsArg,
    context: ContextArg,
    trace_id: str | None,
    idempotency_key: str | None,
) -> JSONDict:
    """The body of ``POST /pipelines``."""
    body: JSONDict = {
        "name": name,
        "stages": [stage_wire(s) for s in stages],
        "pipelineKeywords": keyword_items(keywords),
        "pipelineContextItems": context_items(context),
    }
    if trace_id is not None:
        body["traceId"] = trace_id
    if idempotency_key is not None:
        body["idempotencyKey"] = idempotency_key
    return body


def log_body(message: str, level: str, keywords: KeywordsArg) -> JSONDict:
    """The body of ``POST /logs``."""
    body: JSONDict = {
        "message": message,
        "logLevel": normalise_level(level),
        "created": rfc3339_now(),
    }
    items = keyword_items(keywords)
    if items:
        body["keywords"] = items
    return body


def error_message(response: httpx.Response) -> str:
    """The error text of a non-2xx answer (plain text, or a JSON ``{"error": {"message"}}``)."""
    text = response.text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return text or response.reason_phrase


def raise_for_status(response: httpx.Response) -> None:
    """Raise :class:`AuthError` for 401/403 and :class:`PipelogiqError` for other non-2xx."""
    if response.is_success:
        return
    message = error_message(response)
    if response.status_code in (401, 403):
        raise AuthError(response.status_code, message)
    raise PipelogiqError(response.status_code, message)


def json_body(response: httpx.Response) -> JSONDict:
    """The JSON object of a 2xx answer; ``{}`` when it is empty or not an object."""
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"value": data}


_RFC3339_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 time (as ``leaseUntil``); ``None`` when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    text = _RFC3339_FRACTION.sub(r"\1", value.strip().replace("z", "Z"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
