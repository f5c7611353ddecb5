"""Developer tasks: `invoke --list` shows them."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Context, task

PY = sys.executable
UI = Path(__file__).parent / "ui"


@task
def install(c: Context) -> None:
    """Install Pipelogiq with its test tools into the current environment (editable)."""
    c.run(f"{PY} -m pip install -e '.[test]'")


@task(help={"demo": "also run a demo worker and a trickle of sample pipelines"})
def serve(c: Context, demo: bool = False) -> None:
    """Run everything in one process, embedded (SQLite + in-process broker) unless configured."""
    c.run(f"{PY} -m pipelogiq serve" + (" --demo" if demo else ""), pty=sys.stdout.isatty())


@task(help={"k": "only tests matching this expression",
            "tier": "unit | integration (local PostgreSQL) | e2e | fuzz | all"})
def test(c: Context, k: str = "", tier: str = "all") -> None:
    """Run the test suite: unit, integration (real PostgreSQL), end-to-end (real servers)."""
    paths = {"unit": "tests/unit", "integration": "tests/integration", "e2e": "tests/e2e",
             "fuzz": "tests/fuzz", "all": "tests"}[tier]
    selector = f" -k '{k}'" if k else ""
    c.run(f"{PY} -m pytest {paths} -q{selector}")


@task
def lint(c: Context) -> None:
    """ruff over the package, tests and tasks."""
    c.run(f"{PY} -m ruff check pipelogiq tests examples tasks.py setup.py")


@task
def typecheck(c: Context) -> None:
    """mypy --strict over the package."""
    c.run(f"{PY} -m mypy pipelogiq")


@task
def migrate(c: Context) -> None:
    """Apply database migrations to DATABASE_URL (default data/pipelogiq.db) and exit."""
    c.run(f"{PY} -m pipelogiq migrate")


@task(help={"pipelines": "pipelines to run (chains, for Celery)", "stages": "stages per pipeline",
            "concurrency": "worker concurrency",
            "rate": "pipelines created per second (0: all at once)",
            "suite": "hops (default) | all (Pipelogiq and Celery side by side, API latency,"
                     " memory) | pipelogiq | celery | memory; all but hops need '.[bench]'",
            "memory_pipelines": "pipelines waiting on no worker, for memory per pipeline"
                                " (suites all and memory; 0 skips it in all)",
            "celery_pool": "Celery worker pool: prefork | threads | solo",
            "profile": "write a py-spy profile of the server (raw stacks) to this path"})
def bench(c: Context, pipelines: int = 300, stages: int = 3, concurrency: int = 8,
          rate: float = 0.0, suite: str = "hops", memory_pipelines: int = 10000,
          celery_pool: str = "prefork", profile: str = "") -> None:
    """Hops per second, dispatch delay, CPU per hop; --suite all adds Celery, API latency, memory;
    --suite http: server CPU per request of the external API's HTTP server vs Hypercorn."""
    if suite == "http":
        c.run(f"{PY} -m benchmarks.http_request")
        return
    if suite == "hops":
        c.run(f"{PY} -m benchmarks.hops --pipelines {pipelines} --stages {stages}"
              f" --concurrency {concurrency} --rate {rate}")
        return
    c.run(f"{PY} -m benchmarks.suite --suite {suite} --pipelines {pipelines} --stages {stages}"
          f" --concurrency {concurrency} --rate {rate} --memory-pipelines {memory_pipelines}"
          f" --celery-pool {celery_pool}" + (f" --profile {profile}" if profile else ""))


@task
def bench_policies(c: Context) -> None:
    """Each policy type's measured effect (rate, backoff, timeout, breaker), embedded mode."""
    c.run(f"{PY} -m benchmarks.policies")


@task
def ui(c: Context) -> None:
    """Build the dashboard into ui/dist (served at / by `pipelogiq serve`)."""
    with c.cd(str(UI)):
        c.run("npm ci --no-audit --no-fund")
        c.run("npm run build")


@task
def dev(c: Context) -> None:
    """API + demo on :8080 and the Vite dev server on :3300 (proxying /api and /ws to it)."""
    if not (UI / "node_modules").exists():
        with c.cd(str(UI)):
            c.run("npm ci --no-audit --no-fund")
    api = c.run(f"{PY} -m pipelogiq serve --demo", asynchronous=True)
    try:
        with c.cd(str(UI)):
            c.run("npm run dev", pty=sys.stdout.isatty())
    finally:
        api.runner.kill()


@task(pre=[ui])
def uitest(c: Context) -> None:
    """Dashboard checks: types, Vitest, then Playwright in chromium against serve --demo."""
    with c.cd(str(UI)):
        c.run("npm run lint")
        c.run("npm test")
    c.run("bash ui/e2e/ci.sh")


@task(help={"action": "start | stop | status"})
def services(c: Context, action: str = "start") -> None:
    """Start, stop or check the local PostgreSQL (:5432) and RabbitMQ (:5672) services."""
    cluster = "$(ls /etc/postgresql)"
    if action == "start":
        c.run("pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect "
              f"{cluster} main start")
        c.run("rabbitmqctl -q status >/dev/null 2>&1 || rabbitmq-server -detached", warn=True)
        # await_startup right after -detached fails until the node registers: retry it.
        c.run("for i in $(seq 60); do rabbitmqctl -q await_startup 2>/dev/null && break;"
              " sleep 1; done")
    elif action == "stop":
        c.run(f"pg_ctlcluster --skip-systemctl-redirect {cluster} main stop", warn=True)
        c.run("rabbitmqctl -q stop", warn=True)
    elif action == "status":
        c.run("pg_isready -h 127.0.0.1", warn=True)
        c.run("rabbitmqctl -q status >/dev/null && echo 'rabbitmq: running'", warn=True)
    else:
        raise SystemExit("action: start, stop or status")


@task(help={"apis": "API replicas", "engines": "engine replicas",
            "base_port": "API i on base+10(i-1) and the next port, engine i's metrics on "
                         "base+1010+(i-1); 0: free ports",
            "quiet": "do not echo the replicas' logs"})
def cluster(c: Context, apis: int = 2, engines: int = 2, base_port: int = 8080,
            quiet: bool = False) -> None:
    """Distributed mode on this machine: 2 API + 2 engine replicas on the local PostgreSQL and
    RabbitMQ (a fresh database and prefix unless DATABASE_URL / RABBIT_NAME_PREFIX are set);
    prints their URLs; Ctrl-C stops them all. See docs/deployment.md."""
    c.run(f"{PY} -m pipelogiq.devcluster --apis {apis} --engines {engines}"
          f" --base-port {base_port}" + (" --quiet" if quiet else ""), pty=sys.stdout.isatty())
