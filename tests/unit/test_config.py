"""Settings: defaults, formats, and errors that name the variable."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from pipelogiq.config import (
    DEFAULT_DATABASE_URL,
    SETTINGS_DOC,
    ConfigError,
    Settings,
    format_addr,
    format_duration,
    format_settings_doc,
    load_settings,
    parse_addr,
    parse_bool,
    parse_duration,
    redact_url,
)

SECRET_32 = "s" * 32


def config_error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    return info.value


# --------------------------------------------------------------------------- defaults


def test_defaults_with_an_empty_env() -> None:
    s = load_settings({})
    assert s == Settings()
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite:///data/pipelogiq.db"
    assert s.database_kind == "sqlite"
    assert s.sqlite_path == "data/pipelogiq.db"
    assert s.rabbitmq_url is None
    assert s.worker_rabbitmq_url is None
    assert s.embedded is True
    assert s.app_id == "pipelogiq"
    assert s.rabbit_name_prefix == ""
    assert s.http_addr == ("0.0.0.0", 8080)
    assert s.external_http_addr == ("0.0.0.0", 8081)
    assert s.metrics_addr == ("0.0.0.0", 9090)
    assert s.jwt_secret is None
    assert s.cookie_secure is None
    assert s.trusted_proxies == ()
    assert s.admin_email is None
    assert s.admin_password is None
    assert s.worker_heartbeat_interval == 15.0
    assert s.worker_offline_after == 45.0
    assert s.worker_session_ttl == 24 * 3600.0
    assert s.stage_pending_timeout == 300.0
    assert s.job_lease == 60.0
    assert s.max_redeliveries == 3
    assert s.pull_wait_max == 30.0
    assert s.safety_sweep_interval == 10.0
    assert s.retention == 30 * 86400.0
    assert s.rabbit_dlq_enabled is False
    assert s.rabbit_prefetch == 50
    assert s.log_level == "INFO"
    assert s.log_format is None


def test_empty_and_blank_values_count_as_unset() -> None:
    env = {doc.variable: "" for doc in SETTINGS_DOC}
    env["JOB_LEASE"] = "   "
    assert load_settings(env) == Settings()


def test_reads_os_environ_when_env_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_LEASE", "90s")
    monkeypatch.setenv("APP_ID", "from-environ")
    s = load_settings()
    assert s.job_lease == 90.0
    assert s.app_id == "from-environ"


def test_settings_is_frozen() -> None:
    s = Settings()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.job_lease = 1.0  # type: ignore[misc]


def test_every_setting_is_read() -> None:
    env = {
        "DATABASE_URL": "postgresql://pl:pw@db.example:5432/pipelogiq",
        "RABBITMQ_URL": "amqp://pl:pw@mq:5672/%2F",
        "WORKER_RABBITMQ_URL": "amqps://worker:wpw@mq:5671/",
        "APP_ID": "my.app-1_x",
        "RABBIT_NAME_PREFIX": "test42.",
        "HTTP_ADDR": "127.0.0.1:18080",
        "EXTERNAL_HTTP_ADDR": "[::1]:18081",
        "METRICS_ADDR": "localhost:0",
        "JWT_SECRET": SECRET_32,
        "COOKIE_SECURE": "TRUE",
        "TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16 ,::1,fd00::/8,",
        "PIPELOGIQ_ADMIN_EMAIL": "admin@example.com",
        "PIPELOGIQ_ADMIN_PASSWORD": "correct horse",
        "WORKER_HEARTBEAT_INTERVAL": "5s",
        "WORKER_OFFLINE_AFTER": "20s",
        "WORKER_SESSION_TTL": "12h",
        "STAGE_PENDING_TIMEOUT": "2m",
        "JOB_LEASE": "90",
        "MAX_REDELIVERIES": "0",
        "PULL_WAIT_MAX": "10s",
        "SAFETY_SWEEP_INTERVAL": "1500ms",
        "RETENTION": "7d",
        "RABBIT_DLQ_ENABLED": "yes",
        "RABBIT_PREFETCH": "10",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "Console",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-token=a%20b, X-Tenant=7",
        "OTEL_SERVICE_NAME": "control-plane",
    }
    assert set(env) == {doc.variable for doc in SETTINGS_DOC}
    s = load_settings(env)
    assert s.database_kind == "postgresql"
    assert s.embedded is False
    assert s.rabbitmq_url == "amqp://pl:pw@mq:5672/%2F"
    assert s.worker_rabbitmq_url == "amqps://worker:wpw@mq:5671/"
    assert s.app_id == "my.app-1_x"
    assert s.rabbit_name_prefix == "test42."
    assert s.http_addr == ("127.0.0.1", 18080)
    assert s.external_http_addr == ("::1", 18081)
    assert s.metrics_addr == ("localhost", 0)
    assert s.jwt_secret == SECRET_32
    assert s.cookie_secure is True
    assert s.trusted_proxies == ("10.0.0.1", "192.168.0.0/16", "::1", "fd00::/8")
    assert s.trusted_networks[0] == ipaddress.ip_network("10.0.0.1/32")
    assert ipaddress.ip_address("192.168.3.4") in s.trusted_networks[1]
    assert s.admin_email == "admin@example.com"
    assert s.admin_password == "correct horse"
    assert s.worker_heartbeat_interval == 5.0
    assert s.worker_offline_after == 20.0
    assert s.worker_session_ttl == 12 * 3600.0
    assert s.stage_pending_timeout == 120.0
    assert s.job_lease == 90.0
    assert s.max_redeliveries == 0
    assert s.pull_wait_max == 10.0
    assert s.safety_sweep_interval == 1.5
    assert s.retention == 7 * 86400.0
    assert s.rabbit_dlq_enabled is True
    assert s.rabbit_prefetch == 10
    assert s.log_level == "DEBUG"
    assert s.log_format == "console"
    assert s.otel_exporter_otlp_endpoint == "http://collector:4318"
    assert s.otel_exporter_otlp_headers == (("x-token", "a b"), ("X-Tenant", "7"))
    assert s.otel_service_name == "control-plane"
    assert "a b" not in repr(s)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "expected an http:// or https:// URL"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://c:4317", "expected an http:// or https:// URL"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:99999", "invalid host or port"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "token", "entry 1: expected name=value"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,bad name=2", "entry 2: expected name=value"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=", "a: expected a non-empty printable ASCII value"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=%0Asecret", "a: expected a non-empty printable"),
    ],
)
def test_otel_settings_are_validated(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({variable: value})
    assert err.value.variable == variable and message in str(err.value)
    assert "secret" not in str(err.value)


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("24h", 86400.0),
        ("30d", 30 * 86400.0),
        ("30", 30.0),
        ("0.5", 0.5),
        (".25", 0.25),
        ("1.5h", 5400.0),
        ("1h30m", 5400.0),
        ("2m30s", 150.0),
        ("1d2h3m4s5ms", 93784.005),
        ("100us", 0.0001),
        ("100µs", 0.0001),
        ("1000000ns", 0.001),
        (" 10s ", 10.0),
        ("0", 0.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "abc",
        "10x",
        "s",
        "ms",
        "1h 30m",
        "5S",
        "1e3s",
        "+5s",
        "5m-",
        "1..5s",
        "inf",
        "nan",
    ],
)
def test_parse_duration_rejects_malformed(text: str) -> None:
    with pytest.raises(ConfigError, match="expected a duration like 500ms, 30s, 5m, 24h or 30d"):
        parse_duration(text)


def test_parse_duration_rejects_negative() -> None:
    with pytest.raises(ConfigError, match="negative"):
        parse_duration("-5s")
    with pytest.raises(ConfigError, match="negative"):
        parse_duration("-1")


def test_parse_duration_error_names_variable_when_given() -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration("abc", variable="JOB_LEASE")
    assert info.value.variable == "JOB_LEASE"
    assert str(info.value) == (
        "JOB_LEASE: expected a duration like 500ms, 30s, 5m, 24h or 30d, got 'abc'"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "500ms"), (30.0, "30s"), (90.0, "1m30s"), (86400.0, "1d"), (0.0, "0s"), (0.1, "100ms")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_bad_duration_names_the_variable() -> None:
    err = config_error({"JOB_LEASE": "abc"})
    assert err.variable == "JOB_LEASE"
    assert str(err) == "JOB_LEASE: expected a duration like 500ms, 30s, 5m, 24h or 30d, got 'abc'"


@pytest.mark.parametrize(
    "variable",
    [
        "WORKER_HEARTBEAT_INTERVAL",
        "WORKER_SESSION_TTL",
        "STAGE_PENDING_TIMEOUT",
        "JOB_LEASE",
        "PULL_WAIT_MAX",
        "SAFETY_SWEEP_INTERVAL",
        "RETENTION",
    ],
)
def test_zero_and_negative_durations_are_rejected(variable: str) -> None:
    for value in ("0", "0s", "-3s"):
        err = config_error({variable: value})
        assert err.variable == variable
        assert str(err).startswith(f"{variable}: ")


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("text", "addr"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("localhost:0", ("localhost", 0)),
        ("my-host.example.com:65535", ("my-host.example.com", 65535)),
        ("[::1]:8080", ("::1", 8080)),
        ("[::]:80", ("::", 80)),
    ],
)
def test_parse_addr(text: str, addr: tuple[str, int]) -> None:
    assert parse_addr(text) == addr
    if not text.startswith(":"):
        assert format_addr(addr) == text


@pytest.mark.parametrize(
    "text",
    [
        "8080",
        "localhost",
        ":",
        ":65536",
        ":-1",
        ":80x",
        "::1:8080",
        "[::1]8080",
        "[nope]:80",
        "a b:1",
    ],
)
def test_parse_addr_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_addr(text)


@pytest.mark.parametrize("variable", ["HTTP_ADDR", "EXTERNAL_HTTP_ADDR", "METRICS_ADDR"])
def test_bad_address_names_the_variable(variable: str) -> None:
    err = config_error({variable: "localhost:99999"})
    assert err.variable == variable
    assert str(err) == f"{variable}: port must be a number 0..65535, got 'localhost:99999'"


# --------------------------------------------------------------------------- booleans


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_parse_bool(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "maybe", "2", "y", "t", "enabled"])
def test_parse_bool_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="expected true/false"):
        parse_bool(text)


def test_bad_bool_names_the_variable() -> None:
    err = config_error({"RABBIT_DLQ_ENABLED": "maybe"})
    assert err.variable == "RABBIT_DLQ_ENABLED"
    assert str(err).startswith("RABBIT_DLQ_ENABLED: expected true/false")


@pytest.mark.parametrize(
    ("text", "value"), [("auto", None), ("AUTO", None), ("on", True), ("0", False)]
)
def test_cookie_secure(text: str, value: bool | None) -> None:
    assert load_settings({"COOKIE_SECURE": text}).cookie_secure is value


def test_bad_cookie_secure_names_the_variable() -> None:
    err = config_error({"COOKIE_SECURE": "sometimes"})
    assert err.variable == "COOKIE_SECURE"
    assert "auto" in str(err)


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MAX_REDELIVERIES": "three"}, "MAX_REDELIVERIES"),
        ({"MAX_REDELIVERIES": "-1"}, "MAX_REDELIVERIES"),
        ({"MAX_REDELIVERIES": "1.5"}, "MAX_REDELIVERIES"),
        ({"RABBIT_PREFETCH": "0"}, "RABBIT_PREFETCH"),
        ({"RABBIT_PREFETCH": "65536"}, "RABBIT_PREFETCH"),
        ({"RABBIT_PREFETCH": "lots"}, "RABBIT_PREFETCH"),
    ],
)
def test_bad_int_names_the_variable(env: dict[str, str], variable: str) -> None:
    err = config_error(env)
    assert err.variable == variable
    assert str(err).startswith(f"{variable}: ")


def test_int_bounds_are_inclusive() -> None:
    assert load_settings({"RABBIT_PREFETCH": "1"}).rabbit_prefetch == 1
    assert load_settings({"RABBIT_PREFETCH": "65535"}).rabbit_prefetch == 65535


# --------------------------------------------------------------------------- database URL


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/pipelogiq.db", "data/pipelogiq.db"),
        ("sqlite:///relative/path.db", "relative/path.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite:///x.db", "x.db"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_sqlite_path_parsing(url: str, path: str) -> None:
    s = load_settings({"DATABASE_URL": url})
    assert s.database_url == url
    assert s.database_kind == "sqlite"
    assert s.sqlite_path == path
    assert s.embedded is True


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:pw@localhost:5432/pipelogiq",
        "postgres://user@db/pipelogiq",
        "postgresql:///pipelogiq?host=/var/run/postgresql",
    ],
)
def test_postgresql_url_accepted(url: str) -> None:
    s = load_settings({"DATABASE_URL": url})
    assert s.database_url == url
    assert s.database_kind == "postgresql"
    assert s.embedded is False
    with pytest.raises(ValueError):
        _ = s.sqlite_path


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@db/x",
        "sqlite://x.db",
        "sqlite:x.db",
        "sqlite:///",
        "sqlite:///x.db?mode=ro",
        "postgresql:db",
        "postgresql://u:hunter2@db:notaport/x",
        "data/pipelogiq.db",
        "hunter2",
    ],
)
def test_bad_database_url_names_the_variable_without_leaking(url: str) -> None:
    err = config_error({"DATABASE_URL": url})
    assert err.variable == "DATABASE_URL"
    assert str(err).startswith("DATABASE_URL: ")
    assert "hunter2" not in str(err)


# --------------------------------------------------------------------------- RabbitMQ URLs


def test_worker_rabbitmq_url_defaults_to_rabbitmq_url() -> None:
    s = load_settings({"RABBITMQ_URL": "amqp://guest:guest@localhost:5672/"})
    assert s.worker_rabbitmq_url == "amqp://guest:guest@localhost:5672/"
    assert s.embedded is False
    assert Settings(rabbitmq_url="amqps://mq/").worker_rabbitmq_url == "amqps://mq/"


def test_worker_rabbitmq_url_can_differ() -> None:
    s = load_settings(
        {"RABBITMQ_URL": "amqp://admin:a@mq/", "WORKER_RABBITMQ_URL": "amqp://worker:w@mq/"}
    )
    assert s.rabbitmq_url == "amqp://admin:a@mq/"
    assert s.worker_rabbitmq_url == "amqp://worker:w@mq/"


def test_worker_rabbitmq_url_without_rabbitmq_url_is_rejected() -> None:
    err = config_error({"WORKER_RABBITMQ_URL": "amqp://worker:w@mq/"})
    assert err.variable == "WORKER_RABBITMQ_URL"


def test_sqlite_with_rabbitmq_is_not_embedded() -> None:
    s = load_settings({"RABBITMQ_URL": "amqp://mq/"})
    assert s.database_kind == "sqlite"
    assert s.embedded is False


@pytest.mark.parametrize("variable", ["RABBITMQ_URL", "WORKER_RABBITMQ_URL"])
@pytest.mark.parametrize(
    "url", ["http://u:hunter2@mq/", "mq:5672", "amqp:/mq", "amqp://", "amqp://u:hunter2@mq:x/"]
)
def test_bad_amqp_url_names_the_variable_without_leaking(variable: str, url: str) -> None:
    env = {"RABBITMQ_URL": "amqp://mq/", variable: url}
    err = config_error(env)
    assert err.variable == variable
    assert str(err).startswith(f"{variable}: ")
    assert "hunter2" not in str(err)


# --------------------------------------------------------------------------- other checks


def test_offline_after_must_exceed_heartbeat() -> None:
    for offline in ("15s", "10s"):
        err = config_error({"WORKER_HEARTBEAT_INTERVAL": "15s", "WORKER_OFFLINE_AFTER": offline})
        assert err.variable == "WORKER_OFFLINE_AFTER"
        assert "WORKER_HEARTBEAT_INTERVAL" in str(err)
    err = config_error({"WORKER_OFFLINE_AFTER": "10s"})  # against the default 15s heartbeat
    assert err.variable == "WORKER_OFFLINE_AFTER"
    ok = load_settings({"WORKER_HEARTBEAT_INTERVAL": "15s", "WORKER_OFFLINE_AFTER": "15.5s"})
    assert ok.worker_offline_after == 15.5


def test_short_jwt_secret_rejected() -> None:
    err = config_error({"JWT_SECRET": "s" * 31})
    assert err.variable == "JWT_SECRET"
    assert "32" in str(err)
    assert "s" * 31 not in str(err)
    assert load_settings({"JWT_SECRET": SECRET_32}).jwt_secret == SECRET_32


def test_admin_email_and_password() -> None:
    err = config_error({"PIPELOGIQ_ADMIN_EMAIL": "admin"})
    assert err.variable == "PIPELOGIQ_ADMIN_EMAIL"
    err = config_error({"PIPELOGIQ_ADMIN_PASSWORD": "short"})
    assert err.variable == "PIPELOGIQ_ADMIN_PASSWORD"
    assert "short" not in str(err)
    s = load_settings({"PIPELOGIQ_ADMIN_EMAIL": "a@b", "PIPELOGIQ_ADMIN_PASSWORD": "12345678"})
    assert (s.admin_email, s.admin_password) == ("a@b", "12345678")


@pytest.mark.parametrize("variable", ["APP_ID", "RABBIT_NAME_PREFIX"])
def test_broker_names_charset(variable: str) -> None:
    err = config_error({variable: "has space"})
    assert err.variable == variable
    err = config_error({variable: "ünicode"})
    assert err.variable == variable


def test_trusted_proxies_validated() -> None:
    err = config_error({"TRUSTED_PROXIES": "10.0.0.1,not-an-ip"})
    assert err.variable == "TRUSTED_PROXIES"
    assert "not-an-ip" in str(err)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("debug", "DEBUG"),
        ("Info", "INFO"),
        ("warning", "WARNING"),
        ("WARN", "WARNING"),
        ("error", "ERROR"),
    ],
)
def test_log_level(text: str, level: str) -> None:
    assert load_settings({"LOG_LEVEL": text}).log_level == level


def test_bad_log_level_and_format_name_the_variable() -> None:
    assert config_error({"LOG_LEVEL": "verbose"}).variable == "LOG_LEVEL"
    assert config_error({"LOG_FORMAT": "xml"}).variable == "LOG_FORMAT"
    assert load_settings({"LOG_FORMAT": "JSON"}).log_format == "json"
    assert load_settings({"LOG_FORMAT": "auto"}).log_format is None


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match="^JOB_LEASE: "):
        Settings(job_lease=0)
    with pytest.raises(ConfigError, match="^RABBIT_PREFETCH: "):
        Settings(rabbit_prefetch=0)
    with pytest.raises(ConfigError, match="^DATABASE_URL: "):
        Settings(database_url="mysql://x/y")
    assert Settings(log_level="warn").log_level == "WARNING"


def test_first_error_is_raised() -> None:
    err = config_error({"DATABASE_URL": "mysql://x/y", "JOB_LEASE": "abc"})
    assert err.variable in {"DATABASE_URL", "JOB_LEASE"}


# --------------------------------------------------------------------------- secrets and docs


def test_repr_hides_secrets() -> None:
    s = load_settings(
        {
            "DATABASE_URL": "postgresql://pl:dbsecret@db/x",
            "RABBITMQ_URL": "amqp://pl:mqsecret@mq/",
            "JWT_SECRET": "j" * 40,
            "PIPELOGIQ_ADMIN_PASSWORD": "adminsecret",
        }
    )
    text = repr(s)
    for secret in ("dbsecret", "mqsecret", "j" * 40, "adminsecret"):
        assert secret not in text
    assert "postgresql://pl:***@db/x" in text


def test_redact_url() -> None:
    assert redact_url("amqp://u:p@h:5672/v") == "amqp://u:***@h:5672/v"
    assert redact_url("amqp://h/") == "amqp://h/"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_settings_doc_covers_every_field() -> None:
    variables = [doc.variable for doc in SETTINGS_DOC]
    assert len(variables) == len(attrs.fields(Settings)) == len(set(variables))
    for doc in SETTINGS_DOC:
        assert doc.default and doc.description
    by_name = {doc.variable: doc for doc in SETTINGS_DOC}
    assert by_name["JOB_LEASE"].default == "60s"
    assert by_name["RETENTION"].default == "30d"
    text = format_settings_doc()
    assert all(v in text for v in variables)
    table = format_settings_doc(markdown=True)
    assert table.startswith("| variable | default | description |")
    assert len(table.splitlines()) == len(variables) + 2
