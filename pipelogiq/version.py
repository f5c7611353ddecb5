"""Version, commit and build date from the package metadata."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from pipelogiq import __version__


@cache
def version_info() -> dict[str, str]:
    commit, date = "unknown", "unknown"
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "-C", str(root), "log", "-1", "--format=%H %cI"],
                capture_output=True, text=True, timeout=2, check=True,
            ).stdout.split()
            if len(out) == 2:
                commit, date = out
        except (OSError, subprocess.SubprocessError):
            pass
    return {"version": __version__, "commit": commit, "buildDate": date}
