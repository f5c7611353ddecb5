"""Server CPU per HTTP request: the external API's server (`http/h1.py` + `http/lean.py`)
against Hypercorn serving a bare ASGI app, both on Trio in a process of their own.

One httpx client sends sequential keep-alive POSTs of a small JSON body to a handler that
answers `{"status":"ok"}`; the figure is the server process's CPU time per request.

    python -m benchmarks.http_request --requests 3000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx

from benchmarks.hops import _cpu_seconds, _port

_SERVERS = {
    "h1": """
import sys, trio
from pipelogiq.http.h1 import serve_h1
from pipelogiq.http.lean import LeanApp, json_reply, text_reply
app = LeanApp(text_reply)
@app.post("/jobs/ack")
async def ack(req):
    return json_reply({"status": "ok"})
trio.run(lambda: serve_h1(app, ("127.0.0.1", int(sys.argv[1])),
                          shutdown_trigger=trio.sleep_forever, graceful_timeout=1))
""",
    "hypercorn": """
import sys, trio
from hypercorn.config import Config
from hypercorn.trio import serve
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            done = "lifespan.startup.complete" if m["type"] == "lifespan.startup" else None
            await send({"type": done or "lifespan.shutdown.complete"})
            if not done:
                return
    while (await receive()).get("more_body"):
        pass
    body = b'{"status":"ok"}'
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
c = Config()
c.bind = [f"127.0.0.1:{sys.argv[1]}"]
c.accesslog = None
trio.run(serve, app, c)
""",
}


def measure(server: str, requests: int) -> dict[str, Any]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVERS[server], str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            while True:  # a separate process: readiness is only observable by asking
                try:
                    client.post("/jobs/ack", json={"token": "t"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for _ in range(200):  # warm up
                client.post("/jobs/ack", json={"token": "t"})
            cpu, t = _cpu_seconds(proc.pid), time.perf_counter()
            for _ in range(requests):
                client.post("/jobs/ack", json={"token": "t"})
            cpu, wall = _cpu_seconds(proc.pid) - cpu, time.perf_counter() - t
    finally:
        proc.kill()
        proc.wait()
    return {"server": server, "requests": requests,
            "server_cpu_ms_per_request": round(cpu / requests * 1000, 3),
            "wall_ms_per_request": round(wall / requests * 1000, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000)
    args = p.parse_args()
    # alternate, twice each: the machine's speed drifts
    runs = [measure(s, args.requests) for s in ("h1", "hypercorn", "h1", "hypercorn")]
    print(json.dumps({"runs": runs, "machine": f"{os.cpu_count()} cores"}, indent=2))


if __name__ == "__main__":
    main()
