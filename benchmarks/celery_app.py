"""The Celery side of the side-by-side benchmark: the app a `celery worker` subprocess loads.

Configured from the environment by `benchmarks.celery_chain` (broker URL with its own vhost,
queue names), so one worker process serves one benchmark run and nothing else:

    PIPELOGIQ_BENCH_BROKER   amqp://guest:guest@127.0.0.1:5672/<vhost>
    PIPELOGIQ_BENCH_QUEUE    the queue (and routing key) every hop is sent to
    PIPELOGIQ_BENCH_DONE     the queue the last task of each chain reports to
    PIPELOGIQ_BENCH_ACKS_LATE  "1": ack each message after its task ran (default: on receipt)

No result backend: a chain does not need one (the worker sends the next signature itself when
a task succeeds; results would only be stored for a caller that waits on them), and results are
ignored. Completion is signalled by the last task of each chain, which publishes the chain's
record to the "done" queue; the benchmark counts those messages.

One task, `hop`: trivial, returns its input. The input carries the bookkeeping the benchmark
needs for the per-hop delay: when the previous task ended (or when the chain was sent, for the
first task), and the delays measured so far.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

BROKER = os.environ.get("PIPELOGIQ_BENCH_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
QUEUE = os.environ.get("PIPELOGIQ_BENCH_QUEUE", "pipelogiq-bench")
DONE = os.environ.get("PIPELOGIQ_BENCH_DONE", "pipelogiq-bench-done")
ACKS_LATE = os.environ.get("PIPELOGIQ_BENCH_ACKS_LATE", "") == "1"


def make_app(broker: str, queue: str, acks_late: bool = False) -> Celery:
    """A Celery app whose tasks all go to ``queue`` (a direct exchange of the same name)."""
    app = Celery("pipelogiq_bench", broker=broker)
    app.conf.update(
        task_queues=[Queue(queue, Exchange(queue, type="direct"), routing_key=queue)],
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_ignore_result=True,  # no result backend at all (see the module doc)
        worker_enable_remote_control=False,  # no pidbox exchanges/queues in the broker
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Acks on receipt unless asked (Celery's default); acks after the task with
        # PIPELOGIQ_BENCH_ACKS_LATE=1, which is what a Pipelogiq worker does.
        task_acks_late=acks_late,
        # Celery's defaults otherwise: prefetch multiplier 4, persistent messages on durable
        # queues, JSON serialisation.
    )
    return app


app = make_app(BROKER, QUEUE, ACKS_LATE)


@app.task(name="bench.hop")
def hop(payload: dict[str, Any], last: bool) -> dict[str, Any]:
    """Return the input; record the delay since the previous hop ended (or the chain was sent)."""
    started = time.time()
    delays = payload["delays"]
    delays.append(started - payload["t"])
    payload["t"] = time.time()
    if last:
        with app.producer_or_acquire() as producer:
            producer.publish(payload, routing_key=DONE, exchange="", serializer="json",
                             retry=True)
    return payload
