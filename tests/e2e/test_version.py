"""`/version` (external) and `/api/version` (internal) answer the package's version, commit and
build date (SPEC §4, §8): what `pipelogiq --version` prints. Where they come from is tested in
tests/unit/test_version_info.py and, for a built wheel, tests/e2e/test_wheel.py."""

from __future__ import annotations

import httpx

from conftest import Api
from pipelogiq import __version__
from pipelogiq.version import version_info


async def test_both_version_routes_answer_the_build_s_version_commit_and_date(api: Api) -> None:
    async with httpx.AsyncClient() as anonymous:
        external = (await anonymous.get(api.running.external_url + "/version")).json()
        internal = (await anonymous.get(api.running.internal_url + "/api/version")).json()
    assert external == internal == version_info()
    assert external["version"] == __version__
    assert external["commit"] and external["buildDate"]
