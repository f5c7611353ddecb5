"""The machine's RabbitMQ (127.0.0.1:5672, guest/guest) for tests: each test uses its own
RABBIT_NAME_PREFIX and deletes what was declared under it afterwards; `Proxy` makes outages
without touching the shared server."""

from __future__ import annotations

import shutil
import socket
import uuid

import aiormq
import trio

from pipelogiq.bridge.sidecar import Sidecar

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/"


def available() -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return True
    except OSError:
        return False


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


async def rabbitmqctl(*args: str) -> str:
    done = await trio.run_process(["rabbitmqctl", "-q", *args], capture_stdout=True,
                                  capture_stderr=True)
    return bytes(done.stdout).decode()


async def _delete(queues: list[str], exchanges: list[str]) -> None:
    conn = await aiormq.connect(URL)
    try:
        ch = await conn.channel()
        for queue in queues:
            await ch.queue_delete(queue)
        for exchange in exchanges:
            await ch.exchange_delete(exchange)
    finally:
        await conn.close()


async def delete_prefix(prefix: str) -> None:
    """Every queue and exchange whose name starts with `prefix` (shielded: runs at teardown)."""
    with trio.CancelScope(shield=True):
        queues = [n for n in (await rabbitmqctl("list_queues", "name", "--no-table-headers")
                              ).split() if n.startswith(prefix)]
        exchanges = [n for n in (await rabbitmqctl("list_exchanges", "name",
                                                   "--no-table-headers")).split()
                     if n.startswith(prefix)]
        async with Sidecar("test-cleanup") as sc:
            await sc.run(_delete, queues, exchanges)


class Proxy:
    """A TCP proxy to RabbitMQ that the test can cut (refusing new connections) and restore."""

    def __init__(self) -> None:
        self.open = True
        self._scopes: set[trio.CancelScope] = set()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host=HOST)
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started(port)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if not self.open:
                return
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    async with await trio.open_tcp_stream(HOST, PORT) as upstream, \
                            trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, client, upstream, nursery.cancel_scope)
                        nursery.start_soon(self._pump, upstream, client, nursery.cancel_scope)
                finally:
                    self._scopes.discard(scope)

    @staticmethod
    async def _pump(src: trio.SocketStream, dst: trio.SocketStream,
                    done: trio.CancelScope) -> None:
        try:
            async for data in src:
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        done.cancel()

    def cut(self) -> None:
        self.open = False
        for scope in self._scopes:
            scope.cancel()
