"""Command line: serve | api | engine | migrate | create-user."""

from __future__ import annotations

import argparse
import getpass
import signal
import sys

import trio

from pipelogiq import __version__
from pipelogiq.actors.cluster import Role
from pipelogiq.app import needs_services, open_store, run_server
from pipelogiq.clock import SystemClock
from pipelogiq.config import ConfigError, Settings, format_settings_doc, load_settings
from pipelogiq.observability.logs import setup_logging
from pipelogiq.security import hash_password
from pipelogiq.version import version_info


async def _serve(settings: Settings, demo: bool, role: Role = "serve") -> None:
    closing = trio.Event()
    extra = None
    if demo:
        from pipelogiq.demo import run_demo

        extra = run_demo
    async with trio.open_nursery() as nursery:
        async def on_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if closing.is_set():  # a second signal: stop now
                        nursery.cancel_scope.cancel()
                        return
                    print("shutting down (signal again to force)", file=sys.stderr, flush=True)
                    closing.set()

        nursery.start_soon(on_signals)
        await run_server(settings, role=role, extra=extra, closing=closing)
        nursery.cancel_scope.cancel()  # the server has drained: stop watching signals


async def _migrate(settings: Settings) -> None:
    async with open_store(settings, SystemClock()) as store:
        applied = await store.migrate()
        print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


async def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("password: ")
    if len(password) < 8:
        print("password: at least 8 characters", file=sys.stderr)
        return 2
    async with open_store(settings, SystemClock()) as store:
        await store.migrate()
        uid = await store.create_user(args.email, args.name or args.email, args.role,
                                      hash_password(password))
        if uid is None:
            print(f"a user with email {args.email} exists", file=sys.stderr)
            return 1
        print(f"created user {uid} ({args.email}, {args.role})")
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pipelogiq", description="Pipelogiq execution control plane",
        epilog="Settings come from the environment:\n" + format_settings_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="store_true", help="print version, commit and build date")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="everything in one process (embedded by default)")
    serve.add_argument("--demo", action="store_true",
                       help="also run a demo worker and feed sample pipelines")
    sub.add_parser("api", help="the HTTP servers and the job path of HTTP workers "
                              "(distributed mode: PostgreSQL and RabbitMQ)")
    sub.add_parser("engine", help="pipelines, AMQP consumers, recovery, watchdogs, retention, "
                                 "metrics (distributed mode: PostgreSQL and RabbitMQ)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    cu = sub.add_parser("create-user", help="add a dashboard user")
    cu.add_argument("email")
    cu.add_argument("--name")
    cu.add_argument("--role", choices=["Admin", "RegularUser"], default="RegularUser")
    cu.add_argument("--password", help="(prompted for when omitted)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        info = version_info()
        print(f"pipelogiq {info['version']} (commit {info['commit']}, built {info['buildDate']})")
        return 0
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    command = args.command or "serve"
    if command in ("api", "engine"):
        role: Role = "api" if command == "api" else "engine"
        problem = needs_services(settings, role)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
        trio.run(_serve, settings, False, role)
        return 0
    if command == "serve":
        trio.run(_serve, settings, args.demo)
        return 0
    if command == "migrate":
        trio.run(_migrate, settings)
        return 0
    return trio.run(_create_user, settings, args)


__all__ = ["main", "__version__"]
