"""Fuzzing the external API from its OpenAPI document (schemathesis, valid and invalid input)
against the real server process: no 5xx, and a rejected request creates or deletes nothing.

Runs with a valid API key so requests get past authentication to validation. The per-request
check counts rows (a background dispatch may update rows and add log lines in between, which
the deterministic tests in tests/e2e/test_bad_input.py compare exactly)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from pipelogiq.http.openapi_external import external_openapi
from syncserver import SyncServer, row_counts

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
COUNTED_TABLES = ("pipelines", "stages", "context_items", "keywords", "application_logs",
                  "workers", "worker_events", "worker_heartbeats", "job_leases", "api_keys",
                  "applications", "users")

schema = schemathesis.openapi.from_dict(external_openapi())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=EXAMPLES)
TRIED = {"requests": 0, "server_errors": 0}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncServer]:
    server = SyncServer(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    with server:
        yield server
    print(f"\nexternal API fuzz: {TRIED['requests']} requests, "
          f"{TRIED['server_errors']} server errors")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_external_api_fuzz(case: schemathesis.Case, live: SyncServer) -> None:
    before = row_counts(live.db, COUNTED_TABLES)
    headers = {"X-API-Key": live.api_key}
    if case.path.startswith("/workers/") and case.path != "/workers/bootstrap":
        headers = {"X-Worker-Session": live.worker_session}
    response = case.call(base_url=live.external_url, headers=headers, timeout=40)
    TRIED["requests"] += 1
    if case.path == "/rabbitmq/connection" and response.status_code == 503:
        return  # the contract in embedded mode (SPEC §4): there is no broker to point to
    if response.status_code >= 500:
        TRIED["server_errors"] += 1
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if 400 <= response.status_code < 500:
        assert row_counts(live.db, COUNTED_TABLES) == before, (case.method, case.path, case.body, response.text)


def test_fuzz_server_is_still_healthy(live: SyncServer) -> None:
    assert httpx.get(f"{live.external_url}/readyz").status_code == 200
