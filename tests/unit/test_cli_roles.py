"""`pipelogiq api` and `pipelogiq engine` need PostgreSQL and RabbitMQ: without them they exit 2
naming what is missing, before touching anything."""

from __future__ import annotations

import pytest

from pipelogiq.app import needs_services
from pipelogiq.cli import main
from pipelogiq.config import load_settings

PG = "postgresql://u@db/pipelogiq"
AMQP = "amqp://guest:guest@mq/"


@pytest.mark.parametrize("command", ["api", "engine"])
@pytest.mark.parametrize(("env", "missing"), [
    ({}, ["DATABASE_URL=postgresql://", "RABBITMQ_URL=amqp://"]),
    ({"DATABASE_URL": PG}, ["RABBITMQ_URL=amqp://"]),
    ({"RABBITMQ_URL": AMQP}, ["DATABASE_URL=postgresql://"]),
    ({"DATABASE_URL": "sqlite:///x.db", "RABBITMQ_URL": AMQP}, ["DATABASE_URL=postgresql://"]),
])
def test_split_roles_refuse_embedded_settings(
        command: str, env: dict[str, str], missing: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for variable in ("DATABASE_URL", "RABBITMQ_URL", "WORKER_RABBITMQ_URL"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert f"pipelogiq {command} runs in distributed mode" in err
    assert all(m in err for m in missing), err
    assert "pipelogiq serve" in err


def test_serve_needs_nothing_and_distributed_settings_satisfy_both_roles() -> None:
    assert needs_services(load_settings({}), "serve") is None
    both = load_settings({"DATABASE_URL": PG, "RABBITMQ_URL": AMQP})
    assert needs_services(both, "api") is None and needs_services(both, "engine") is None
