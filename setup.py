"""Build hook (metadata is in pyproject.toml): building the package — a wheel, `pip install .`
or `pip install -e .` — also builds the dashboard, and a wheel ships it with the SQL
migrations and the build's commit and date.

- `ui/dist` is (re)built when it is missing or older than a UI source: `npm ci` (only when
  `ui/node_modules` is missing or older than the lock file), then `npm run build`. Without npm
  a warning is printed and the build goes on without the dashboard (the APIs work; `/` says
  how to build it); a failing npm command fails the build. `PIPELOGIQ_UI_DIST=<dir>` takes that
  bundle as it is instead (a Docker stage built it, or a test has one).
- A wheel gets the bundle as `pipelogiq/_ui/`, `migrations/*.sql` as `pipelogiq/migrations/`
  and `pipelogiq/_build_info.json` ({commit, buildDate}: `PIPELOGIQ_COMMIT` or `git rev-parse
  HEAD`; `SOURCE_DATE_EPOCH` or now). An editable install builds `ui/dist` only: a checkout
  serves it from there, reads `migrations/` and asks git for its commit (`pipelogiq/version.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError

ROOT = Path(__file__).resolve().parent
UI = ROOT / "ui"
UI_INPUTS = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts",
             "tsconfig.json", "tsconfig.app.json", "tsconfig.node.json", "public")


def _warn(message: str) -> None:
    print(f"\n*** pipelogiq build: {message}\n", file=sys.stderr, flush=True)


def _newest(paths: list[Path]) -> float:
    times = [p.stat().st_mtime for top in paths if top.exists()
             for p in ([top] if top.is_file() else top.rglob("*")) if p.is_file()]
    return max(times, default=0.0)


def _npm(*args: str) -> None:
    print(f"pipelogiq build: npm {' '.join(args)} (in ui/)", file=sys.stderr, flush=True)
    try:
        subprocess.run(["npm", *args], cwd=UI, check=True)
    except subprocess.CalledProcessError as exc:
        raise ExecError(f"`npm {' '.join(args)}` in ui/ failed (exit {exc.returncode});"
                        " fix the dashboard build, or set PIPELOGIQ_UI_DIST") from None


def ui_bundle() -> Path | None:
    """The built dashboard to ship, building it first when it is missing or stale."""
    given = os.environ.get("PIPELOGIQ_UI_DIST")
    dist = Path(given).resolve() if given else UI / "dist"
    if not given and (UI / "package.json").is_file():
        built = (dist / "index.html").stat().st_mtime if (dist / "index.html").is_file() else 0
        if built < _newest([UI / name for name in UI_INPUTS]):
            if shutil.which("npm") is None:
                _warn("npm was not found, so the dashboard is not built: the APIs work, and"
                      " `/` says so. Install Node 20 with npm and build again.")
                return None
            lock = UI / "node_modules" / ".package-lock.json"
            if not lock.is_file() or lock.stat().st_mtime < _newest([UI / "package-lock.json"]):
                _npm("ci", "--no-audit", "--no-fund")
            _npm("run", "build")
    if not (dist / "index.html").is_file():
        _warn(f"no dashboard bundle at {dist}: building without the dashboard")
        return None
    return dist


def _commit() -> str:
    if os.environ.get("PIPELOGIQ_COMMIT"):
        return os.environ["PIPELOGIQ_COMMIT"]
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_info() -> dict[str, str]:
    when = float(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
    return {"commit": _commit(),
            "buildDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))}


class BuildPy(build_py):
    def run(self) -> None:
        bundle = ui_bundle()
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "pipelogiq"
        if bundle is not None:
            shutil.rmtree(package / "_ui", ignore_errors=True)
            shutil.copytree(bundle, package / "_ui")
        migrations = package / "migrations"
        migrations.mkdir(parents=True, exist_ok=True)
        for sql in sorted((ROOT / "migrations").glob("*.sql")):
            shutil.copy2(sql, migrations / sql.name)
        (package / "_build_info.json").write_text(json.dumps(build_info()) + "\n")


setup(cmdclass={"build_py": BuildPy})
