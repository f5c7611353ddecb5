"""An example Pipelogiq worker with three handlers: ``fetch``, ``transform`` and ``notify``.

Run it next to a server (``pipelogiq serve``) with an API key of your application::

    PIPELOGIQ_API_KEY=... python examples/worker.py --url http://127.0.0.1:8081

Then create a matching 3-stage pipeline::

    curl -sS http://127.0.0.1:8081/pipelines \\
      -H "X-API-Key: $PIPELOGIQ_API_KEY" -H 'Content-Type: application/json' \\
      -d '{
            "name": "example-order",
            "stages": [
              {"stageName": "Fetch order", "stageHandlerName": "fetch",
               "input": "{\\"orderId\\": 42}"},
              {"stageName": "Price order", "stageHandlerName": "transform",
               "options": {"maxRetries": 2, "retryInterval": 5}},
              {"stageName": "Notify customer", "stageHandlerName": "notify"}
            ],
            "pipelineKeywords": [{"key": "customer", "value": "acme"}],
            "pipelineContextItems": [{"key": "currency", "value": "EUR"}]
          }'

Watch it run on the dashboard (:8080). Stop the worker with Ctrl-C: it finishes running jobs,
hands back the ones it has not started and says goodbye to the server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import anyio

from pipelogiq.sdk import AuthError, FatalError, Job, Result, RetryableError, Worker

PRICES = {"widget": 2.5, "gadget": 10.0}


def build_worker(url: str, api_key: str, concurrency: int) -> Worker:
    """The worker with its three handlers registered."""
    worker = Worker(url, api_key, "example-worker", concurrency=concurrency)

    @worker.handler("fetch")
    def fetch(job: Job) -> Result:
        """A blocking handler (runs in a thread): "fetch" the order named by the input."""
        request = json.loads(job.input or "{}")
        if "orderId" not in request:
            raise FatalError("input needs an orderId", error_code="BAD_INPUT")
        job.log("Information", f"fetching order {request['orderId']}")
        items = {"widget": 3, "gadget": 1}
        # The output is shown on the dashboard; the context item is what later stages read.
        return Result(
            output={"orderId": request["orderId"], "items": items}, context={"items": items}
        )

    @worker.handler("transform")
    async def transform(job: Job) -> Result:
        """An async handler: price the order from context items, and write the total back."""
        currency = job.context.get("currency")
        if currency is None or "items" not in job.context:
            raise RetryableError("the pipeline context lacks 'currency' or 'items'")
        items: dict[str, int] = json.loads(job.context["items"])
        await anyio.sleep(0.1)  # pretend to call a pricing service
        total = sum(PRICES[name] * count for name, count in items.items())
        job.log("Information", f"priced at {total:.2f} {currency}")
        return Result(
            output={"total": total, "currency": currency},
            context={"orderTotal": f"{total:.2f} {currency}"},
        )

    @worker.handler("notify")
    async def notify(job: Job) -> str:
        """Tell the customer; the total comes from the context item ``transform`` wrote."""
        total = job.context.get("orderTotal", "?")
        job.log("Information", f"notifying customer: total {total}")
        return f"customer notified (total {total})"

    return worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8081", help="external API base URL")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("PIPELOGIQ_API_KEY"),
        help="application API key (default: $PIPELOGIQ_API_KEY)",
    )
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("give --api-key or set PIPELOGIQ_API_KEY")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs every request at INFO

    worker = build_worker(args.url, args.api_key, args.concurrency)
    try:
        worker.run()
    except AuthError as exc:
        print(f"the server rejected the API key: {exc.message}", file=sys.stderr)
        return 2
    print(f"processed {worker.jobs_processed} job(s), {worker.jobs_failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
