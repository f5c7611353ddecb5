"""Packaging (`setup.py`'s build hook): a wheel built from a copy of the source tree carries
the dashboard bundle, the SQL migrations and the build's commit and date, and the installed
package uses them (it migrates, serves the packaged bundle and reports its commit). Without
npm the wheel is still built, without the dashboard, and the build says so.

The dashboard is not rebuilt here (that takes minutes): the hook is handed the checkout's
`ui/dist` through PIPELOGIQ_UI_DIST when it exists, else a small stand-in bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns("__pycache__", "node_modules", "*.egg-info", "_ui",
                              "_build_info.json", ".mypy_cache", ".ruff_cache")


def _source_copy(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("pipelogiq", "migrations"):
        shutil.copytree(ROOT / name, dest / name, ignore=SKIP)
    shutil.copytree(ROOT / "ui", dest / "ui",
                    ignore=shutil.ignore_patterns("node_modules", "dist", "test-results", "e2e"))
    shutil.rmtree(dest / "pipelogiq" / "migrations", ignore_errors=True)
    return dest


def _bundle(tmp_path: Path) -> Path:
    """The checkout's built dashboard if there is one (copied: it may be rebuilt meanwhile),
    else a stand-in."""
    dest = tmp_path / "bundle"
    try:
        shutil.copytree(ROOT / "ui" / "dist", dest)
        if (dest / "index.html").is_file():
            return dest
    except (OSError, shutil.Error):
        pass
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "assets").mkdir(parents=True)
    (dest / "index.html").write_text("<!doctype html><title>Pipelogiq</title>")
    (dest / "assets" / "app.js").write_text("console.log('pipelogiq')")
    return dest


def _wheel(src: Path, out: Path, env: dict[str, str]) -> tuple[Path, str]:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-v",
                        "-w", str(out)], cwd=src, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (wheel,) = out.glob("pipelogiq-*.whl")
    return wheel, r.stdout + r.stderr


def _git_commit(src: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                               *args], cwd=src, check=True, capture_output=True,
                              text=True).stdout.strip()
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "snapshot")
    return git("rev-parse", "HEAD")


def test_the_wheel_ships_the_dashboard_migrations_and_build_info(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    head = _git_commit(src)
    bundle = _bundle(tmp_path)
    env = {**os.environ, "PIPELOGIQ_UI_DIST": str(bundle), "SOURCE_DATE_EPOCH": "1767225600"}
    env.pop("PIPELOGIQ_COMMIT", None)
    wheel, _ = _wheel(src, tmp_path / "out", env)

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.read("pipelogiq/_ui/index.html") == (bundle / "index.html").read_bytes()
        info = json.loads(zf.read("pipelogiq/_build_info.json"))
        shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("pipelogiq/migrations/")}
        zf.extractall(tmp_path / "site")
    assert any(n.startswith("pipelogiq/_ui/assets/") for n in names)
    assert shipped == {p.name for p in (ROOT / "migrations").glob("*.sql")}
    assert info == {"commit": head, "buildDate": "2026-01-01T00:00:00Z"}

    # The unpacked wheel in use (its dependencies from this environment; run from an empty
    # folder so neither the checkout nor its migrations/ and ui/dist are in reach).
    here = tmp_path / "elsewhere"
    here.mkdir()
    run_env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"),
               "DATABASE_URL": f"sqlite:///{here}/w.db"}
    run_env.pop("PIPELOGIQ_UI_DIST", None)
    probe = ("import json, pipelogiq; from pipelogiq.version import version_info;"
             " from pipelogiq.http.spa import dist_dir;"
             " from pipelogiq.store.migrate import migrations_dir;"
             " print(json.dumps([pipelogiq.__file__, version_info(), str(dist_dir()),"
             " str(migrations_dir())]))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=here, env=run_env,
                       capture_output=True, text=True, timeout=60, check=True)
    file, version, dist, migrations = json.loads(r.stdout)
    site = tmp_path / "site" / "pipelogiq"
    assert Path(file).parent == site
    assert version["commit"] == head and version["buildDate"] == "2026-01-01T00:00:00Z"
    assert (Path(dist), Path(migrations)) == (site / "_ui", site / "migrations")
    r = subprocess.run([sys.executable, "-m", "pipelogiq", "migrate"], cwd=here, env=run_env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("applied: 0001"), r.stderr


def test_without_npm_the_wheel_is_built_without_the_dashboard(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    tools = tmp_path / "bin"  # git but no npm on the PATH
    tools.mkdir()
    if git := shutil.which("git"):
        (tools / "git").symlink_to(git)
    env = {**os.environ, "PATH": str(tools), "PIPELOGIQ_COMMIT": "feedface"}
    env.pop("PIPELOGIQ_UI_DIST", None)
    wheel, output = _wheel(src, tmp_path / "out", env)
    assert "npm was not found, so the dashboard is not built" in output
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert json.loads(zf.read("pipelogiq/_build_info.json"))["commit"] == "feedface"
    assert not any(n.startswith("pipelogiq/_ui/") for n in names)
    assert any(n.startswith("pipelogiq/migrations/0001_") for n in names)
