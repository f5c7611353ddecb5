"""Integrations (SPEC §8, as in the original): OpenTelemetry, alerting, Grafana and log link
templates — validating each kind's config, masking its secrets, and connection tests.

Secrets (OpenTelemetry header values, the alerting `secret`, the Grafana `apiToken`) are
stored but only ever shown masked (`mask`). A config sent back with a secret still masked keeps
the stored secret; a masked value that does not match the stored one is refused rather than
stored. Validation messages never quote a secret or a URL (URLs can carry tokens too).

A connection test is one HTTP request bounded by a cancel scope (`TEST_TIMEOUT`); a remote
that fails, refuses or stays silent is a result with `ok: false`, never an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import attrs
import httpx
import trio

from pipelogiq.jsonobj import JsonObject
from pipelogiq.store.base import iso

KINDS = ("opentelemetry", "alerting", "grafana", "logs")
TESTABLE = ("opentelemetry", "alerting", "grafana")
TEST_TIMEOUT = 3.0
MASK = "…"
ALERT_CHANNELS = ("webhook", "slack", "teams")
# What the alerter delivers (`pipelogiq.actors.alerter`); the first five are the original's
# names and stay valid.
ALERT_EVENTS = ("pipeline.failed", "pipeline.completed", "stage.failed", "worker.offline",
                "policy.triggered", "pipeline.stuck", "worker.started", "worker.stopped",
                "worker.failed", "policy.changed", "queue.backlog", "message.deadlettered")
DEFAULT_ALERT_EVENTS = ["pipeline.failed", "worker.offline"]
PLACEHOLDERS = ("traceId", "pipelineId", "applicationId")
SIGNATURE_HEADER = "X-Pipelogiq-Signature"

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_URL = 2000
MAX_HEADERS = 50


class IntegrationError(ValueError):
    """An invalid config; the message names the field (an HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def mask(secret: str) -> str:
    """The first 4 characters and `…`; a short secret shows nothing but `…`."""
    return secret[:4] + MASK if len(secret) >= 12 else MASK


# -- reading a config ------------------------------------------------------------------------

class _Obj(JsonObject):
    error = IntegrationError

    def flag(self, name: str) -> bool:
        v = self.get(name)
        if v is not None and not isinstance(v, bool):
            raise IntegrationError(f"{self.path(name)}: expected true or false")
        return bool(v)

    def text(self, name: str, max_len: int = 200) -> str | None:
        v = self.get(name)
        if v is None:
            return None
        if not isinstance(v, str):
            raise IntegrationError(f"{self.path(name)}: expected a string")
        if len(v) > max_len:
            raise IntegrationError(f"{self.path(name)}: longer than {max_len} characters")
        return v.strip() or None

    def url(self, name: str, *, required: bool) -> str | None:
        v = self.text(name, MAX_URL)
        if v is None:
            if required:
                raise IntegrationError(f"{self.path(name)} is required when enabled")
            return None
        _check_url(v, self.path(name))
        return v

    def secret(self, name: str, stored: Any) -> str | None:
        v = self.text(name, 4000)
        return None if v is None else _keep_masked(v, stored, self.path(name))


def _check_url(value: str, where: str) -> None:
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise IntegrationError(f"{where}: must not contain spaces or control characters")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise IntegrationError(f"{where}: has an invalid port") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise IntegrationError(f"{where}: must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise IntegrationError(f"{where}: must not carry credentials (user:password@);"
                               " use the integration's secret fields")


def _keep_masked(value: str, stored: Any, where: str) -> str:
    """`value`, or the stored secret when `value` is that secret's mask."""
    if isinstance(stored, str) and value == mask(stored):
        return stored
    if value.endswith(MASK):
        raise IntegrationError(f"{where}: is a masked value that does not match the stored"
                               " secret; send the full value")
    return value


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# -- kinds -----------------------------------------------------------------------------------

def normalize(kind: str, raw: Any, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """`raw` validated as a `kind` config, with masked secrets taken from `stored`."""
    if kind not in KINDS:
        raise IntegrationError(f"kind: must be one of {', '.join(KINDS)}")
    obj = _Obj({} if raw is None else raw, kind)
    check = {"opentelemetry": _otel, "alerting": _alerting, "grafana": _grafana,
             "logs": _logs}[kind]
    return _drop_none(check(obj, stored or {}))


def _otel(o: _Obj, stored: Mapping[str, Any]) -> dict[str, Any]:
    enabled = o.flag("enabled")
    return {"enabled": enabled, "endpoint": o.url("endpoint", required=enabled),
            "headers": _headers(o.get("headers"), stored.get("headers") or {}, o.path("headers")),
            "serviceName": o.text("serviceName")}


def _headers(raw: Any, stored: Mapping[str, str], where: str) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise IntegrationError(f"{where}: expected an object of header names to values")
    if len(raw) > MAX_HEADERS:
        raise IntegrationError(f"{where}: more than {MAX_HEADERS} headers")
    by_name = {k.lower(): v for k, v in stored.items()}
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not _HEADER_NAME.fullmatch(name):
            raise IntegrationError(f"{where}: a header name is not a valid HTTP token")
        here = f"{where}.{name}"
        if not isinstance(value, str) or not value or len(value) > 4000:
            raise IntegrationError(f"{here}: expected a non-empty string (at most 4000)")
        out[name] = _header_value(_keep_masked(value, by_name.get(name.lower()), here), here)
    return out or None


def _header_value(value: str, where: str) -> str:
    """A value that can go in an HTTP header as is (httpx refuses anything else)."""
    if any(c in value for c in "\r\n\0"):
        raise IntegrationError(f"{where}: must not contain line breaks")
    if not all(c == "\t" or " " <= c <= "~" for c in value):
        raise IntegrationError(f"{where}: must be printable ASCII")
    return value


def _alerting(o: _Obj, stored: Mapping[str, Any]) -> dict[str, Any]:
    enabled = o.flag("enabled")
    channel = o.get("channel") or "webhook"
    if channel not in ALERT_CHANNELS:
        raise IntegrationError(f"alerting.channel: must be one of {', '.join(ALERT_CHANNELS)}")
    events = o.get("events")
    if events is None:
        events = list(DEFAULT_ALERT_EVENTS)
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise IntegrationError("alerting.events: expected an array of strings")
    if unknown := sorted(set(events) - set(ALERT_EVENTS)):
        raise IntegrationError(f"alerting.events: unknown {', '.join(unknown)}; known:"
                               f" {', '.join(ALERT_EVENTS)}")
    return {"enabled": enabled, "webhookUrl": o.url("webhookUrl", required=enabled),
            "channel": channel, "secret": o.secret("secret", stored.get("secret")),
            "events": list(dict.fromkeys(events))}


def _grafana(o: _Obj, stored: Mapping[str, Any]) -> dict[str, Any]:
    enabled = o.flag("enabled")
    uid = o.text("dashboardUid")
    if uid is not None and not _UID.fullmatch(uid):
        raise IntegrationError("grafana.dashboardUid: 1 to 40 letters, digits, - or _")
    token = o.secret("apiToken", stored.get("apiToken"))
    return {"enabled": enabled, "baseUrl": o.url("baseUrl", required=enabled),
            "dashboardUid": uid,
            "apiToken": None if token is None else _header_value(token, "grafana.apiToken")}


def _logs(o: _Obj, stored: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _template(o.text(name, MAX_URL), o.path(name))
            for name in ("traceLinkTemplate", "logsLinkTemplate")}


def _template(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    names = _PLACEHOLDER.findall(value)
    if unknown := [n for n in names if n not in PLACEHOLDERS]:
        raise IntegrationError(f"{where}: unknown placeholder {{{unknown[0]}}}; use"
                               f" {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    if not {"traceId", "pipelineId"} & set(names):
        raise IntegrationError(f"{where}: must contain a {{traceId}} or {{pipelineId}}"
                               " placeholder")
    sample = render(value, traceId="0" * 32, pipelineId=1, applicationId=1)
    if "{" in sample or "}" in sample:
        raise IntegrationError(f"{where}: has an unbalanced {{ or }}")
    _check_url(sample, where)
    return value


def render(template: str, **values: object) -> str:
    """A link template with its placeholders filled in (values URL-encoded)."""
    return _PLACEHOLDER.sub(
        lambda m: quote(str(values[m.group(1)]), safe="") if m.group(1) in values
        else m.group(0), template)


# -- secrets ---------------------------------------------------------------------------------

def _secret_paths(kind: str, config: Mapping[str, Any]) -> list[tuple[str, ...]]:
    if kind == "opentelemetry":
        return [("headers", name) for name in config.get("headers") or {}]
    return [(field,) for field in {"alerting": ("secret",), "grafana": ("apiToken",)}.get(kind, ())
            if config.get(field)]


def secrets(kind: str, config: Mapping[str, Any]) -> list[str]:
    """Every secret value of a config (to keep them out of messages)."""
    out = []
    for path in _secret_paths(kind, config):
        node: Any = config
        for key in path:
            node = node[key]
        out.append(str(node))
    return out


def public(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as responses show it: every secret masked."""
    out = json.loads(json.dumps(config))
    for path in _secret_paths(kind, config):
        node = out
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = mask(str(node[path[-1]]))
    assert isinstance(out, dict)
    return out


def is_configured(kind: str, config: Mapping[str, Any] | None) -> bool:
    if not config:
        return False
    key = {"opentelemetry": "endpoint", "alerting": "webhookUrl", "grafana": "baseUrl"}.get(kind)
    if key is None:
        return bool(config.get("traceLinkTemplate") or config.get("logsLinkTemplate"))
    return bool(config.get(key))


@attrs.frozen
class IntegrationState:
    """One kind's stored config (full secrets: never answer with it as is), when it was
    saved, and the result of the last connection test of that same config."""

    kind: str
    config: dict[str, Any] | None = None
    updated_at: float | None = None
    last_test: dict[str, Any] | None = None

    def public_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "configured": is_configured(self.kind, self.config),
                "config": None if self.config is None else public(self.kind, self.config),
                "updatedAt": iso(self.updated_at)}


# -- connection tests ------------------------------------------------------------------------

@attrs.frozen
class ProbeResult:
    ok: bool
    elapsed_ms: int
    status: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none({"ok": self.ok, "status": self.status, "error": self.error,
                           "elapsedMs": self.elapsed_ms})


@attrs.frozen
class _Probe:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


def alert_payload(channel: str, event: str, title: str, text: str, now: float,
                  details: Mapping[str, Any] | None = None, key: str | None = None) -> bytes:
    """An alert's JSON body in the shape `channel` expects (Slack and Teams read `text`).
    A webhook also gets the alert's `details` (ids, names) and its de-duplication `key`."""
    if channel in ("slack", "teams"):
        doc: dict[str, Any] = {"text": f"*{title}*\n{text}" if channel == "slack"
                               else f"**{title}**\n\n{text}"}
    else:
        doc = _drop_none({"event": event, "title": title, "message": text, "sentAt": iso(now),
                          "key": key, "details": dict(details) if details else None})
    return json.dumps(doc, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC of the body>`, sent as `X-Pipelogiq-Signature` when a secret is set."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _probe(kind: str, config: Mapping[str, Any], now: float) -> _Probe:
    json_type = {"Content-Type": "application/json"}
    if kind == "alerting":
        body = alert_payload(config.get("channel", "webhook"), "test", "Pipelogiq test alert",
                             "This is a test of the alerting integration.", now)
        headers = dict(json_type)
        if config.get("secret"):
            headers[SIGNATURE_HEADER] = signature(config["secret"], body)
        return _Probe("POST", config["webhookUrl"], headers, body)
    if kind == "grafana":
        headers = {"Authorization": f"Bearer {config['apiToken']}"} if config.get("apiToken") else {}
        return _Probe("GET", config["baseUrl"].rstrip("/") + "/api/health", headers)
    endpoint: str = config["endpoint"]
    url = endpoint if endpoint.rstrip("/").endswith("/v1/traces") \
        else endpoint.rstrip("/") + "/v1/traces"
    # An empty OTLP/HTTP export: a collector answers 200 and records nothing.
    return _Probe("POST", url, {**json_type, **(config.get("headers") or {})},
                  b'{"resourceSpans":[]}')


async def _send(probe: _Probe) -> tuple[int | None, str | None]:
    """The answer's status, or why there was none (without waiting for the body)."""
    try:
        async with httpx.AsyncClient(timeout=None, follow_redirects=False) as client:
            async with client.stream(probe.method, probe.url, headers=probe.headers,
                                     content=probe.body) as response:
                return response.status_code, None
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        # ValueError: a request httpx cannot encode; validation should have refused it, and
        # a test must still answer with a result rather than fail the request.
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def check_connection(kind: str, config: Mapping[str, Any], now: float) -> ProbeResult:
    """One request to the integration's endpoint, given `TEST_TIMEOUT` seconds. A 2xx answer is
    `ok`; anything else (a status, a refused connection, no answer in time) is `ok: false` with
    an `error` that never contains a secret."""
    probe = _probe(kind, config, now)
    status: int | None = None
    error: str | None = None
    started = trio.current_time()
    with trio.move_on_after(TEST_TIMEOUT) as scope:
        status, error = await _send(probe)
    elapsed = round((trio.current_time() - started) * 1000)
    if scope.cancelled_caught:
        error = f"no answer within {TEST_TIMEOUT:g}s"
    elif error is None and status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    for secret in secrets(kind, config):
        error = error.replace(secret, mask(secret)) if error else error
    return ProbeResult(ok=error is None, elapsed_ms=elapsed, status=status, error=error)
