"""Version, commit and build date (SPEC §8), shown by `/version`, `/api/version` and
`pipelogiq --version`.

The version is the installed package's metadata. The commit and build date come from
`_build_info.json`, which the build (`setup.py`) writes into a built package; a checkout (an
editable install, which gets no such file because it would go stale at the next commit) asks
git for the current commit and its date; anything else says "unknown"."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from pipelogiq import __version__

PACKAGE = Path(__file__).resolve().parent
BUILD_INFO = PACKAGE / "_build_info.json"
UNKNOWN = "unknown"


def _from_build(path: Path) -> tuple[str, str] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    commit, date = doc.get("commit"), doc.get("buildDate")
    return (commit if isinstance(commit, str) and commit else UNKNOWN,
            date if isinstance(date, str) and date else UNKNOWN)


def _from_git(root: Path) -> tuple[str, str] | None:
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H %cI"],
            capture_output=True, text=True, timeout=2, check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out[0], out[1]) if len(out) == 2 else None


def read_version_info(package: Path = PACKAGE) -> dict[str, str]:
    """{version, commit, buildDate} for the package in `package` (uncached, for tests)."""
    commit, date = (_from_build(package / BUILD_INFO.name) or _from_git(package.parent)
                    or (UNKNOWN, UNKNOWN))
    return {"version": __version__, "commit": commit, "buildDate": date}


@cache
def version_info() -> dict[str, str]:
    return read_version_info()
