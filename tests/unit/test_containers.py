"""The container files (no Docker engine runs here, so they are checked, not run): the
Dockerfile's ENTRYPOINT/CMD and every compose service built from it name real `pipelogiq`
subcommands, set only settings that `pipelogiq/config.py` reads, and have health checks; the
Dockerfile copies only files that exist."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import yaml

from pipelogiq.cli import _parser
from pipelogiq.config import SETTINGS_DOC

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {d.variable for d in SETTINGS_DOC}


def subcommands() -> set[str]:
    (sub,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_the_image_runs_pipelogiq_with_a_real_subcommand() -> None:
    found = dict(instructions()[::-1])  # the last of each instruction counts
    assert json.loads(found["ENTRYPOINT"]) == ["pipelogiq"]
    cmd = json.loads(found["CMD"])
    assert cmd[0] in subcommands() and cmd == ["serve"]
    assert {"serve", "api", "engine", "migrate"} <= subcommands()


def test_the_dockerfile_copies_only_what_exists() -> None:
    for op, args in instructions():
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _ = args.split()
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: no such file"


def test_compose_services_run_real_subcommands_with_known_settings() -> None:
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("build") or
            str(s.get("image", "")).startswith("pipelogiq")}
    assert set(ours) == {"api", "engine"}
    assert {"postgres", "rabbitmq"} <= set(services)
    for name, service in ours.items():
        command = service["command"]
        assert isinstance(command, list) and command[0] in subcommands(), name
        assert command == [name]
        env = service["environment"]
        assert isinstance(env, dict)
        unknown = set(env) - SETTINGS
        assert not unknown, f"{name} sets {unknown}, which pipelogiq/config.py does not read"
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["RABBITMQ_URL"].startswith("amqp://")
        assert set(service["depends_on"]) == {"postgres", "rabbitmq"}
        assert all(dep["condition"] == "service_healthy"
                   for dep in service["depends_on"].values())


def test_every_service_has_a_health_check_on_a_real_route_or_tool() -> None:
    services = compose()["services"]
    checks = {name: " ".join(s["healthcheck"]["test"]) for name, s in services.items()}
    assert "/api/readyz" in checks["api"]
    assert ":9090/metrics" in checks["engine"]
    assert "pg_isready" in checks["postgres"]
    assert "rabbitmq-diagnostics" in checks["rabbitmq"]
