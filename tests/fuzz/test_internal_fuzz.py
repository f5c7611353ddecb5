"""Fuzzing the internal API from its OpenAPI document (schemathesis, valid and invalid input)
against the real server process, logged in as the admin: no 5xx, and a rejected request
creates or deletes no rows. (`/ws` is a WebSocket and is left to tests/e2e/test_ws.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from pipelogiq.http.openapi_internal import internal_openapi
from syncserver import SyncServer, row_counts

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
COUNTED_TABLES = ("pipelines", "stages", "context_items", "keywords", "applications",
                  "user_applications", "users", "api_keys", "policies", "integration_configs")

schema = schemathesis.openapi.from_dict(internal_openapi()).exclude(path="/ws")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=EXAMPLES)
TRIED = {"requests": 0, "server_errors": 0}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncServer]:
    server = SyncServer(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    with server:
        # Something to find: a pipeline with a stage, so ids 1.. exist.
        httpx.post(f"{server.external_url}/pipelines", headers={"X-API-Key": server.api_key},
                   json={"name": "seed", "stages": [{"stageName": "s", "stageHandlerName": "h"}]}
                   ).raise_for_status()
        yield server
    print(f"\ninternal API fuzz: {TRIED['requests']} requests, "
          f"{TRIED['server_errors']} server errors")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_internal_api_fuzz(case: schemathesis.Case, live: SyncServer) -> None:
    before = row_counts(live.db, COUNTED_TABLES)
    response = case.call(base_url=live.internal_url, cookies={"authKey": live.cookie},
                         timeout=30)
    TRIED["requests"] += 1
    if response.status_code >= 500:
        TRIED["server_errors"] += 1
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if 400 <= response.status_code < 500:
        assert row_counts(live.db, COUNTED_TABLES) == before, (case.method, case.path, case.body, response.text)
