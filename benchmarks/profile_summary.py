"""Summarise a py-spy profile recorded with `--format raw --threads` (collapsed stacks).

Prints, as a share of the busy samples: samples per thread; "owners" (each sample charged to
the innermost Pipelogiq function on its stack, so library time goes to the Pipelogiq code that
called it; samples with none go to the library group of the leaf); the functions with the most
self time (leaf frames); and the functions with the most inclusive time (on the stack).

    py-spy record --pid PID --format raw --threads -o /tmp/profile.txt --duration 15  [--gil]
    python -m benchmarks.profile_summary /tmp/profile.txt --top 25
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _name(frame: str, lines: bool = False) -> str:
    """`func (path/to/module.py:12)` → `func (module.py)`: one entry per function, unless
    ``lines`` (then `func (module.py:12)`)."""
    frame = frame.strip()
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    line = frame[m.end("file"):-1] if lines else ""
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({file}{line})"


_OUTER = ("pipelogiq/__main__.py", "pipelogiq/cli.py", "pipelogiq/app.py")
_HTTP = ("hypercorn/", "h11/", "quart", "werkzeug/")
_GROUPS = (("trio/", "Trio run loop and I/O (epoll, wake-ups, scheduling)"),
           ("outcome/", "Trio run loop and I/O (epoll, wake-ups, scheduling)"),
           ("sqlite3", "sqlite3"), ("json/", "json"), ("logging/", "logging"))


def _owner(frames: list[str], lines: bool) -> str:
    """The innermost Pipelogiq function on the stack (library time is charged to its caller);
    without one, the HTTP server when it is on the stack, else the library group of the leaf."""
    for frame in reversed(frames):
        if "pipelogiq/" in frame and not any(o in frame for o in _OUTER):
            return _name(frame, lines)
    if any(h in frame for frame in frames for h in _HTTP):
        return "HTTP serving outside Pipelogiq code (hypercorn, h11, Quart; socket I/O)"
    leaf = frames[-1]
    for marker, group in _GROUPS:
        if marker in leaf:
            return group
    return "other: " + _name(leaf)


def summarise(path: Path, top: int = 20, lines: bool = False) -> dict[str, Any]:
    threads: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        if frames and frames[0].startswith(("thread ", "process ")):
            head = frames[0]
            frames = frames[1:]
            if frames and frames[0].startswith("thread "):  # process;thread;… with --subprocesses
                head = frames[0]
                frames = frames[1:]
            threads[head] += n
        if not frames:
            continue
        self_time[_name(frames[-1], lines)] += n
        owners[_owner(frames, lines)] += n
        for name in {_name(f) for f in frames}:
            inclusive[name] += n

    def share(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in c.most_common(top)]

    return {"samples": total, "threads_pct": share(threads), "self_pct": share(self_time),
            "owner_pct": share(owners), "inclusive_pct": share(inclusive)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--lines", action="store_true", help="self time per line, not per function")
    args = p.parse_args()
    s = summarise(args.profile, args.top, args.lines)
    print(f"{s['samples']} samples")
    for title in ("threads_pct", "owner_pct", "self_pct", "inclusive_pct"):
        print(f"\n{title}:")
        for name, pct in s[title]:
            print(f"  {pct:5.1f}%  {name}")


if __name__ == "__main__":
    main()
