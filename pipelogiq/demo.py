"""`pipelogiq serve --demo`: a demo worker and a trickle of sample pipelines, so a newcomer
sees the system move. Both use the public SDK over real HTTP, like any user's worker."""

from __future__ import annotations

import logging
import random

import trio

from pipelogiq.app import Running
from pipelogiq.sdk import AsyncClient, AsyncWorker, Job, Result, RetryableError, Stage
from pipelogiq.security import new_api_key

log = logging.getLogger("pipelogiq.demo")

DEMO_APP = "demo"
PERIOD = 3.0  # seconds between sample pipelines


async def _demo_key(running: Running) -> str:
    store = running.services.store
    app = await store.application_by_name(DEMO_APP)
    if app is None:
        app = await store.create_application(DEMO_APP, "sample pipelines of serve --demo", None)
    secret, key_hash, prefix = new_api_key()
    await store.create_api_key(app["id"], "serve --demo", key_hash, prefix, None)
    return secret


def _worker(url: str, key: str) -> AsyncWorker:
    worker = AsyncWorker(url, key, "demo-worker", instance_id="pipelogiq-demo", concurrency=4,
                         wait_seconds=10)

    @worker.handler("demo.fetch")
    async def fetch(job: Job) -> Result:
        await trio.sleep(random.uniform(0.1, 0.8))
        job.log("Information", "fetched the order")
        return Result(output='{"items": 3}', context={"items": "3"})

    @worker.handler("demo.transform")
    async def transform(job: Job) -> str:
        await trio.sleep(random.uniform(0.2, 1.0))
        if random.random() < 0.3:
            raise RetryableError("upstream timed out (demo failure)")
        return f"transformed {job.context.get('items', '?')} items"

    @worker.handler("demo.notify")
    async def notify(job: Job) -> None:
        await trio.sleep(random.uniform(0.05, 0.3))
        if random.random() < 0.05:
            raise RetryableError("mail server refused (demo failure)")

    return worker


async def _feed(url: str, key: str) -> None:
    async with AsyncClient(url, key) as client:
        n = 0
        while True:
            n += 1
            await client.create_pipeline(
                f"demo-order-{n}",
                [Stage("fetch", "demo.fetch", input={"order": n}),
                 Stage("transform", "demo.transform",
                       options={"maxRetries": 2, "retryInterval": 2}),
                 Stage("notify", "demo.notify", options={"maxRetries": 1, "retryInterval": 1})],
                keywords={"source": "demo", "customer": random.choice(["acme", "globex"])},
            )
            await trio.sleep(PERIOD)


async def run_demo(running: Running) -> None:
    url = running.external_url.replace("://0.0.0.0:", "://127.0.0.1:")
    key = await _demo_key(running)
    log.info("demo: worker and sample pipelines on %s", url)
    worker = _worker(url, key)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker.run)
        nursery.start_soon(_feed, url, key)
        await running.services.closing.wait()
        worker.stop("server shutting down")  # hands unstarted jobs back, says goodbye
        nursery.cancel_scope.deadline = trio.current_time() + 4.0
