"""Settings: every environment variable Pipelogiq reads, parsed and validated in one place.

`load_settings()` reads the environment once and returns a frozen `Settings`. A malformed value
fails with `ConfigError`, whose message names the variable (``JOB_LEASE: expected a duration
like 500ms, 30s, 5m, 24h or 30d, got 'abc'``); nothing falls back silently to a default. An
unset or empty variable takes the default listed in `SETTINGS_DOC` (the same table the README
and ``pipelogiq --help`` print, generated from the field definitions so it cannot drift).

Formats:

- durations: ``500ms``, ``30s``, ``5m``, ``24h``, ``30d``, combined Go-style forms such as
  ``1h30m`` or ``1.5h``, or a bare number of seconds (``30``, ``0.5``); stored as float seconds;
- addresses: ``host:port``, ``:port`` (all IPv4 interfaces) or ``[ipv6]:port``;
- booleans: ``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case).

Error messages never echo secrets: URLs are reported by scheme only, and the JWT secret and
admin password by length only. `Settings`' repr hides them too.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SETTINGS_DOC",
    "ConfigError",
    "DatabaseKind",
    "LogFormat",
    "SettingDoc",
    "Settings",
    "format_addr",
    "format_duration",
    "format_settings_doc",
    "load_settings",
    "parse_addr",
    "parse_bool",
    "parse_duration",
    "redact_url",
]

DEFAULT_DATABASE_URL = "sqlite:///data/pipelogiq.db"

DatabaseKind = Literal["sqlite", "postgresql"]
LogFormat = Literal["json", "console"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
JWT_SECRET_MIN_LENGTH = 32
ADMIN_PASSWORD_MIN_LENGTH = 8


class ConfigError(Exception):
    """A setting is malformed. ``str(error)`` is ``"VARIABLE: what is wrong"``.

    `variable` is the environment variable's name (None when a parse helper was called without
    one); `detail` is the message without the variable prefix.
    """

    def __init__(self, variable: str | None, detail: str) -> None:
        self.variable = variable
        self.detail = detail
        self.message = f"{variable}: {detail}" if variable else detail
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- parse helpers

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_BARE_NUMBER_RE = re.compile(_NUMBER)
# "ms" must come before "m" and "s"; µ (micro sign) and μ (Greek mu) as Go accepts both.
_DURATION_PART_RE = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h|d)")
_UNIT_SECONDS: dict[str, Fraction] = {
    "ns": Fraction(1, 1_000_000_000),
    "us": Fraction(1, 1_000_000),
    "µs": Fraction(1, 1_000_000),
    "μs": Fraction(1, 1_000_000),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}
_DURATION_EXPECTED = "expected a duration like 500ms, 30s, 5m, 24h or 30d"


def parse_duration(text: str, *, variable: str | None = None) -> float:
    """Parse ``500ms``, ``30s``, ``5m``, ``24h``, ``30d``, ``1h30m`` or a bare number of seconds.

    Returns seconds (zero is allowed here; `Settings` requires its durations to be > 0).
    Negative, empty or malformed text raises `ConfigError`.
    """
    s = text.strip()
    if s.startswith("-"):
        raise ConfigError(variable, f"a duration must not be negative, got {text!r}")
    total: Fraction
    if _BARE_NUMBER_RE.fullmatch(s):
        total = Fraction(s)
    else:
        total = Fraction(0)
        pos = 0
        while pos < len(s):
            m = _DURATION_PART_RE.match(s, pos)
            if m is None:
                break
            total += Fraction(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if not s or pos != len(s):
            raise ConfigError(variable, f"{_DURATION_EXPECTED}, got {text!r}")
    seconds = float(total)
    if not math.isfinite(seconds):
        raise ConfigError(variable, f"duration is too large, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds the way they are written in the environment: 90 -> ``1m30s``."""
    if seconds < 0 or not math.isfinite(seconds):
        return f"{seconds:g}s"
    millis = Fraction(repr(float(seconds))) * 1000  # repr: the shortest exact decimal
    if millis.denominator != 1:
        return f"{seconds:g}s"
    rest = int(millis)
    if rest == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    if rest:
        parts.append(f"{rest}ms")
    return "".join(parts)


_HOST_RE = re.compile(r"[A-Za-z0-9_.-]+")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_ADDR_EXPECTED = "expected host:port, :port or [ipv6]:port"


def parse_addr(text: str, *, variable: str | None = None) -> tuple[str, int]:
    """Parse ``host:port``, ``:port`` (host ``0.0.0.0``) or ``[::1]:port`` into (host, port)."""
    s = text.strip()
    if s.startswith("["):
        end = s.find("]")
        if end == -1 or s[end + 1 : end + 2] != ":":
            raise ConfigError(variable, f"{_ADDR_EXPECTED}, got {text!r}")
        host, port_text = s[1:end], s[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(variable, f"invalid IPv6 address in {text!r}") from None
    else:
        host, sep, port_text = s.rpartition(":")
        if not sep:
            raise ConfigError(variable, f"{_ADDR_EXPECTED}, got {text!r}")
        if ":" in host:
            raise ConfigError(
                variable, f"an IPv6 host must be in brackets, like [::1]:8080, got {text!r}"
            )
        if not host:
            host = "0.0.0.0"
        elif not _HOST_RE.fullmatch(host):
            raise ConfigError(variable, f"invalid host in {text!r}")
    if not _PORT_RE.fullmatch(port_text) or int(port_text) > 65535:
        raise ConfigError(variable, f"port must be a number 0..65535, got {text!r}")
    return host, int(port_text)


def format_addr(addr: tuple[str, int]) -> str:
    """(host, port) -> ``host:port`` (``[host]:port`` for IPv6), e.g. for a Hypercorn bind."""
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(text: str, *, variable: str | None = None) -> bool:
    """true/false, 1/0, yes/no, on/off, case-insensitive; anything else is a `ConfigError`."""
    s = text.strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ConfigError(variable, f"expected true/false, 1/0, yes/no or on/off, got {text!r}")


def _parse_int(text: str, *, variable: str | None = None) -> int:
    s = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ConfigError(variable, f"expected an integer, got {text!r}")
    return int(s)


def _parse_cookie_secure(text: str, *, variable: str | None = None) -> bool | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return parse_bool(text)
    except ConfigError:
        raise ConfigError(
            variable, f"expected auto or true/false (1/0, yes/no, on/off), got {text!r}"
        ) from None


def _parse_log_format(text: str, *, variable: str | None = None) -> LogFormat | None:
    s = text.strip().lower()
    if s == "auto":
        return None
    if s == "json":
        return "json"
    if s == "console":
        return "console"
    raise ConfigError(variable, f"expected json, console or auto, got {text!r}")


def _parse_list(text: str, *, variable: str | None = None) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _parse_text(text: str, *, variable: str | None = None) -> str:
    return text.strip()


def _parse_secret(text: str, *, variable: str | None = None) -> str:
    return text  # kept byte for byte: whitespace may be part of a secret


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and reprs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return f"{url.partition(':')[0]}:***"


_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _parse_otlp_headers(text: str, *, variable: str | None = None) -> tuple[tuple[str, str], ...]:
    """``key1=value1,key2=value2`` as OpenTelemetry writes them (values percent-encoded)."""
    out: list[tuple[str, str]] = []
    for number, item in enumerate(text.split(","), 1):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), unquote(value.strip())
        if not sep or not _HEADER_NAME_RE.fullmatch(name):
            raise ConfigError(variable, f"entry {number}: expected name=value with an HTTP"
                                        " header name")
        if not value or not all(c == "\t" or " " <= c <= "~" for c in value):
            raise ConfigError(variable, f"{name}: expected a non-empty printable ASCII value")
        out.append((name, value))
    return tuple(out)


def _redact_headers(value: tuple[tuple[str, str], ...]) -> str:
    return repr(tuple((name, "***") for name, _ in value))


def _redact_optional_url(url: str | None) -> str:
    return "None" if url is None else repr(redact_url(url))


def _redact_secret(value: str | None) -> str:
    return "None" if value is None else "'***'"


# --------------------------------------------------------------------------- URL checks

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_DATABASE_EXPECTED = "expected postgresql://user:password@host:5432/dbname or sqlite:///path/to.db"


def _split_database_url(url: str, variable: str | None) -> tuple[DatabaseKind, str | None]:
    """(kind, sqlite path or None); raises `ConfigError` without echoing the URL."""
    scheme, sep, rest = url.strip().partition(":")
    if not sep or not _SCHEME_RE.fullmatch(scheme):
        raise ConfigError(variable, f"{_DATABASE_EXPECTED}, got a value without a URL scheme")
    kind = scheme.lower()
    if kind == "sqlite":
        if not rest.startswith("///") or len(rest) == 3:
            raise ConfigError(
                variable,
                "expected sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        path = rest[3:]
        if "?" in path or "#" in path:
            raise ConfigError(variable, "query parameters are not supported in a sqlite URL")
        return "sqlite", path
    if kind in ("postgresql", "postgres"):
        if not rest.startswith("//"):
            raise ConfigError(variable, _DATABASE_EXPECTED)
        try:
            _ = urlsplit(url.strip()).port
        except ValueError:
            raise ConfigError(variable, "invalid host or port in the postgresql URL") from None
        return "postgresql", None
    raise ConfigError(variable, f"unsupported scheme {scheme!r}; {_DATABASE_EXPECTED}")


def _check_amqp_url(url: str, variable: str | None) -> None:
    scheme, sep, _ = url.partition(":")
    if (
        not sep
        or scheme.lower() not in ("amqp", "amqps")
        or not url[len(scheme) :].startswith("://")
    ):
        shown = f"scheme {scheme!r}" if sep and _SCHEME_RE.fullmatch(scheme) else "no URL scheme"
        raise ConfigError(
            variable, f"expected amqp://user:password@host:5672/vhost or amqps://…, got {shown}"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigError(variable, "invalid host or port in the AMQP URL") from None
    if not parts.hostname:
        raise ConfigError(variable, "the AMQP URL has no host")


# --------------------------------------------------------------------------- Settings

_T = TypeVar("_T")
_Validator = Callable[[Any, "attrs.Attribute[_T]", _T], None]


def _env(attribute: attrs.Attribute[Any]) -> str:
    name: str = attribute.metadata["env"]
    return name


def _meta(env: str, parse: Callable[..., Any], default: str, doc: str) -> dict[str, Any]:
    return {"env": env, "parse": parse, "default": default, "doc": doc}


def _positive_duration(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(
            _env(attribute), f"must be a duration greater than 0, got {format_duration(value)}"
        )


def _int_range(low: int, high: int | None) -> _Validator[int]:
    def check(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
        if value < low or (high is not None and value > high):
            wanted = f"{low}..{high}" if high is not None else f">= {low}"
            raise ConfigError(_env(attribute), f"must be {wanted}, got {value}")

    return check


def _addr(
    instance: Any, attribute: attrs.Attribute[tuple[str, int]], value: tuple[str, int]
) -> None:
    host, port = value
    if not host or not 0 <= port <= 65535:
        raise ConfigError(_env(attribute), f"invalid address {value!r}")


_NAME_RE = re.compile(r"[A-Za-z0-9_.-]*")


def _broker_name(nonempty: bool) -> _Validator[str]:
    def check(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
        if (nonempty and not value) or not _NAME_RE.fullmatch(value):
            raise ConfigError(
                _env(attribute),
                f"expected letters, digits, '_', '.' or '-', got {value!r}",
            )

    return check


def _database_url(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    _split_database_url(value, _env(attribute))


def _amqp_url(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        _check_amqp_url(value, _env(attribute))


def _jwt_secret(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and len(value) < JWT_SECRET_MIN_LENGTH:
        raise ConfigError(
            _env(attribute),
            f"must be at least {JWT_SECRET_MIN_LENGTH} characters, got {len(value)}",
        )


def _trusted_proxies(
    instance: Any, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                _env(attribute),
                f"expected comma-separated IP addresses or CIDR networks, got {item!r}",
            ) from None


def _admin_email(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise ConfigError(_env(attribute), f"expected an email address, got {value!r}")


def _admin_password(
    instance: Any, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None and len(value) < ADMIN_PASSWORD_MIN_LENGTH:
        raise ConfigError(
            _env(attribute),
            f"must be at least {ADMIN_PASSWORD_MIN_LENGTH} characters, got {len(value)}",
        )


def _normalize_log_level(value: str) -> str:
    level = value.strip().upper()
    return "WARNING" if level == "WARN" else level


def _log_level(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LOG_LEVELS:
        raise ConfigError(
            _env(attribute), f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}"
        )


def _log_format(
    instance: Any, attribute: attrs.Attribute[LogFormat | None], value: LogFormat | None
) -> None:
    if value not in (None, "json", "console"):
        raise ConfigError(_env(attribute), f"expected json, console or auto, got {value!r}")


def _http_url(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ConfigError(_env(attribute), "invalid host or port in the URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in value):
        raise ConfigError(_env(attribute), "expected an http:// or https:// URL")


def _service_name(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not value or len(value) > 200):
        raise ConfigError(_env(attribute), "expected 1 to 200 characters")


def _default_worker_rabbitmq_url(self: Settings) -> str | None:
    return self.rabbitmq_url


@attrs.frozen(kw_only=True)
class Settings:
    """Every setting, typed and validated. Build it with `load_settings()`.

    Constructing it directly (tests) runs the same validation; unspecified fields take the
    defaults of an empty environment. Durations are float seconds; addresses (host, port).
    """

    database_url: str = attrs.field(
        default=DEFAULT_DATABASE_URL,
        validator=_database_url,
        repr=_redact_optional_url,
        metadata=_meta(
            "DATABASE_URL",
            _parse_text,
            "sqlite:///data/pipelogiq.db",
            "postgresql://… (distributed mode) or sqlite:///path/to.db (embedded)",
        ),
    )
    rabbitmq_url: str | None = attrs.field(
        default=None,
        validator=_amqp_url,
        repr=_redact_optional_url,
        metadata=_meta(
            "RABBITMQ_URL",
            _parse_text,
            "unset (in-process broker)",
            "amqp:// or amqps:// URL of RabbitMQ",
        ),
    )
    worker_rabbitmq_url: str | None = attrs.field(
        default=attrs.Factory(_default_worker_rabbitmq_url, takes_self=True),
        validator=_amqp_url,
        repr=_redact_optional_url,
        metadata=_meta(
            "WORKER_RABBITMQ_URL",
            _parse_text,
            "RABBITMQ_URL",
            "AMQP URL given to AMQP-direct workers (e.g. a limited broker user)",
        ),
    )
    app_id: str = attrs.field(
        default="pipelogiq",
        validator=_broker_name(nonempty=True),
        metadata=_meta("APP_ID", _parse_text, "pipelogiq", "deployment id used in broker names"),
    )
    rabbit_name_prefix: str = attrs.field(
        default="",
        validator=_broker_name(nonempty=False),
        metadata=_meta(
            "RABBIT_NAME_PREFIX",
            _parse_text,
            "empty",
            "prefix of every broker object, so deployments or tests can share a broker",
        ),
    )
    http_addr: tuple[str, int] = attrs.field(
        default=("0.0.0.0", 8080),
        validator=_addr,
        metadata=_meta("HTTP_ADDR", parse_addr, ":8080", "internal API and dashboard"),
    )
    external_http_addr: tuple[str, int] = attrs.field(
        default=("0.0.0.0", 8081),
        validator=_addr,
        metadata=_meta(
            "EXTERNAL_HTTP_ADDR", parse_addr, ":8081", "external API (applications, workers)"
        ),
    )
    metrics_addr: tuple[str, int] = attrs.field(
        default=("0.0.0.0", 9090),
        validator=_addr,
        metadata=_meta("METRICS_ADDR", parse_addr, ":9090", "Prometheus metrics"),
    )
    jwt_secret: str | None = attrs.field(
        default=None,
        validator=_jwt_secret,
        repr=_redact_secret,
        metadata=_meta(
            "JWT_SECRET",
            _parse_secret,
            "generated once, stored in the database",
            f"HS256 key of dashboard sessions (at least {JWT_SECRET_MIN_LENGTH} characters)",
        ),
    )
    cookie_secure: bool | None = attrs.field(
        default=None,
        metadata=_meta(
            "COOKIE_SECURE",
            _parse_cookie_secure,
            "auto",
            "Secure session cookie; auto = when a trusted proxy sends X-Forwarded-Proto: https",
        ),
    )
    trusted_proxies: tuple[str, ...] = attrs.field(
        default=(),
        validator=_trusted_proxies,
        metadata=_meta(
            "TRUSTED_PROXIES",
            _parse_list,
            "none",
            "comma-separated IPs or CIDRs whose X-Forwarded-* headers are believed",
        ),
    )
    admin_email: str | None = attrs.field(
        default=None,
        validator=_admin_email,
        metadata=_meta(
            "PIPELOGIQ_ADMIN_EMAIL", _parse_text, "unset", "first-run admin user's email"
        ),
    )
    admin_password: str | None = attrs.field(
        default=None,
        validator=_admin_password,
        repr=_redact_secret,
        metadata=_meta(
            "PIPELOGIQ_ADMIN_PASSWORD",
            _parse_secret,
            "generated and printed once",
            f"first-run admin password (at least {ADMIN_PASSWORD_MIN_LENGTH} characters)",
        ),
    )
    worker_heartbeat_interval: float = attrs.field(
        default=15.0,
        validator=_positive_duration,
        metadata=_meta(
            "WORKER_HEARTBEAT_INTERVAL", parse_duration, "15s", "how often workers heartbeat"
        ),
    )
    worker_offline_after: float = attrs.field(
        default=45.0,
        validator=_positive_duration,
        metadata=_meta(
            "WORKER_OFFLINE_AFTER",
            parse_duration,
            "45s",
            "silence after which a worker is offline (> WORKER_HEARTBEAT_INTERVAL)",
        ),
    )
    worker_session_ttl: float = attrs.field(
        default=86400.0,
        validator=_positive_duration,
        metadata=_meta("WORKER_SESSION_TTL", parse_duration, "24h", "worker session lifetime"),
    )
    stage_pending_timeout: float = attrs.field(
        default=300.0,
        validator=_positive_duration,
        metadata=_meta(
            "STAGE_PENDING_TIMEOUT",
            parse_duration,
            "5m",
            "a stage no worker took within this fails",
        ),
    )
    job_lease: float = attrs.field(
        default=60.0,
        validator=_positive_duration,
        metadata=_meta(
            "JOB_LEASE", parse_duration, "60s", "lease of a pulled job (extendable by the worker)"
        ),
    )
    max_redeliveries: int = attrs.field(
        default=3,
        validator=_int_range(0, None),
        metadata=_meta(
            "MAX_REDELIVERIES",
            _parse_int,
            "3",
            "lost attempts after which a stage fails as a poison job",
        ),
    )
    pull_wait_max: float = attrs.field(
        default=30.0,
        validator=_positive_duration,
        metadata=_meta("PULL_WAIT_MAX", parse_duration, "30s", "longest /jobs/pull long poll"),
    )
    safety_sweep_interval: float = attrs.field(
        default=10.0,
        validator=_positive_duration,
        metadata=_meta(
            "SAFETY_SWEEP_INTERVAL",
            parse_duration,
            "10s",
            "period of the sweep that dispatches anything a lost notification missed",
        ),
    )
    retention: float = attrs.field(
        default=30 * 86400.0,
        validator=_positive_duration,
        metadata=_meta(
            "RETENTION",
            parse_duration,
            "30d",
            "finished pipelines, logs, heartbeats and events older than this are purged",
        ),
    )
    rabbit_dlq_enabled: bool = attrs.field(
        default=False,
        metadata=_meta("RABBIT_DLQ_ENABLED", parse_bool, "false", "dead-letter queues"),
    )
    rabbit_prefetch: int = attrs.field(
        default=50,
        validator=_int_range(1, 65535),
        metadata=_meta("RABBIT_PREFETCH", _parse_int, "50", "AMQP prefetch count per consumer"),
    )
    log_level: str = attrs.field(
        default="INFO",
        converter=_normalize_log_level,
        validator=_log_level,
        metadata=_meta("LOG_LEVEL", _parse_text, "INFO", "DEBUG, INFO, WARNING (WARN) or ERROR"),
    )
    log_format: LogFormat | None = attrs.field(
        default=None,
        validator=_log_format,
        metadata=_meta(
            "LOG_FORMAT",
            _parse_log_format,
            "auto",
            "json, console, or auto (console on a terminal, else json)",
        ),
    )
    otel_exporter_otlp_endpoint: str | None = attrs.field(
        default=None,
        validator=_http_url,
        repr=_redact_optional_url,
        metadata=_meta(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            _parse_text,
            "unset (the OpenTelemetry integration's endpoint, else no export)",
            "OTLP/HTTP collector URL: control-plane spans are POSTed to it + /v1/traces",
        ),
    )
    otel_exporter_otlp_headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(),
        repr=_redact_headers,
        metadata=_meta(
            "OTEL_EXPORTER_OTLP_HEADERS",
            _parse_otlp_headers,
            "none (the integration's headers)",
            "headers of each OTLP export, name=value,… (values percent-encoded)",
        ),
    )
    otel_service_name: str | None = attrs.field(
        default=None,
        validator=_service_name,
        metadata=_meta(
            "OTEL_SERVICE_NAME",
            _parse_text,
            "pipelogiq (or the integration's serviceName)",
            "service.name of the exported spans",
        ),
    )

    def __attrs_post_init__(self) -> None:
        if self.worker_offline_after <= self.worker_heartbeat_interval:
            raise ConfigError(
                "WORKER_OFFLINE_AFTER",
                f"must be greater than WORKER_HEARTBEAT_INTERVAL "
                f"({format_duration(self.worker_heartbeat_interval)}), "
                f"got {format_duration(self.worker_offline_after)}",
            )
        if self.worker_rabbitmq_url is not None and self.rabbitmq_url is None:
            raise ConfigError(
                "WORKER_RABBITMQ_URL",
                "is set but RABBITMQ_URL is not (with the in-process broker workers pull over HTTP)",
            )

    @property
    def database_kind(self) -> DatabaseKind:
        return _split_database_url(self.database_url, "DATABASE_URL")[0]

    @property
    def sqlite_path(self) -> str:
        """The SQLite file path (relative to the working directory unless it starts with /).

        Raises ValueError when the database is PostgreSQL.
        """
        path = _split_database_url(self.database_url, "DATABASE_URL")[1]
        if path is None:
            raise ValueError("DATABASE_URL is not a sqlite URL")
        return path

    @property
    def embedded(self) -> bool:
        """SQLite and the in-process broker: the zero-service mode."""
        return self.database_kind == "sqlite" and self.rabbitmq_url is None

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """`trusted_proxies` as networks (a bare address is a /32 or /128)."""
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from `env` (default: ``os.environ``).

    Unset and empty (or all-blank) variables take their defaults. The first malformed value
    raises `ConfigError` naming its variable.
    """
    source: Mapping[str, str] = os.environ if env is None else env
    values: dict[str, Any] = {}
    for field in attrs.fields(Settings):
        variable: str = field.metadata["env"]
        raw = source.get(variable)
        if raw is None or not raw.strip():
            continue
        values[field.name] = field.metadata["parse"](raw, variable=variable)
    return Settings(**values)


# --------------------------------------------------------------------------- documentation


@attrs.frozen
class SettingDoc:
    """One row of the settings table: environment variable, default, what it does."""

    variable: str
    default: str
    description: str


SETTINGS_DOC: tuple[SettingDoc, ...] = tuple(
    SettingDoc(field.metadata["env"], field.metadata["default"], field.metadata["doc"])
    for field in attrs.fields(Settings)
)


def format_settings_doc(*, markdown: bool = False) -> str:
    """`SETTINGS_DOC` as an aligned plain-text table, or a Markdown table for the README."""
    if markdown:
        lines = ["| variable | default | description |", "|---|---|---|"]
        lines += [f"| `{d.variable}` | {d.default} | {d.description} |" for d in SETTINGS_DOC]
        return "\n".join(lines)
    width_var = max(len(d.variable) for d in SETTINGS_DOC)
    width_default = max(len(d.default) for d in SETTINGS_DOC)
    return "\n".join(
        f"{d.variable:<{width_var}}  {d.default:<{width_default}}  {d.description}"
        for d in SETTINGS_DOC
    )
