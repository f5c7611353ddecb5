"""The dashboard: the built React app served at `/` with an SPA fallback. The bundle is
$PIPELOGIQ_UI_DIST when set, else the copy a built package carries (`pipelogiq/_ui`, put there
by `setup.py`), else `ui/dist` of a checkout (built by `pip install -e .` or `invoke ui`).

No route is added (the OpenAPI test lists every route, and a catch-all rule would turn the
API's 405s into fallbacks): the app's 404 handler serves the bundle instead. A GET or HEAD
that no route answered gets the file of that path inside the bundle, or `index.html` so the
client-side router can take it; paths under the API's prefixes keep their JSON 404.

Files are looked up after resolving the path and checking it stays inside the bundle, so no
`..`, encoded slash or symlink reaches outside it. Hashed assets (`/assets/*`) are cached for a
year; `index.html` is never cached, so a new build shows on the next load."""

from __future__ import annotations

import logging
import mimetypes
import os
from pathlib import Path

import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import NotFound

from pipelogiq.http.common import json_error, text_error
from pipelogiq.services import Services

log = logging.getLogger("pipelogiq.http")

ENV_DIST = "PIPELOGIQ_UI_DIST"
PACKAGED_DIST = Path(__file__).resolve().parents[1] / "_ui"
DEFAULT_DIST = Path(__file__).resolve().parents[2] / "ui" / "dist"

# Paths the SPA never answers: a miss there is the API's JSON 404.
RESERVED = ("/api", "/ws", "/metrics", "/healthz", "/readyz", "/version")

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
SHORT = "public, max-age=3600"

# Explicit types for what a Vite bundle holds (the system's mime.types may be missing).
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}

NOT_BUILT = (
    "The Pipelogiq dashboard is not built: install again with Node 20 and npm on the PATH"
    " (the package build runs npm ci && npm run build in ui/), or run `invoke ui` in a"
    " checkout, or set PIPELOGIQ_UI_DIST to a built bundle. The API is served under /api."
)


def dist_dir() -> Path:
    """The bundle's folder: $PIPELOGIQ_UI_DIST, else the packaged copy, else ui/dist."""
    override = os.environ.get(ENV_DIST)
    if override:
        return Path(override).resolve()
    return PACKAGED_DIST if (PACKAGED_DIST / "index.html").is_file() else DEFAULT_DIST


def content_type(path: Path) -> str:
    known = TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def is_reserved(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


def resolve_inside(root: Path, url_path: str) -> Path | None:
    """The regular file `url_path` names inside `root`, or None (outside, missing, odd)."""
    relative = url_path.lstrip("/")
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or candidate == root:
        return None
    return candidate if candidate.is_file() else None


async def _file(path: Path, cache: str, head: bool) -> Response:
    body = b"" if head else await trio.Path(path).read_bytes()
    response = Response(body, status=200, content_type=content_type(path))
    if head:
        response.content_length = (await trio.Path(path).stat()).st_size
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def add_spa_routes(app: QuartTrio, services: Services) -> None:
    """Serve the dashboard for what no route answered (registered after every API route)."""
    del services  # the bundle needs nothing from the running services
    root = dist_dir()
    if not (root / "index.html").is_file():
        log.warning("no dashboard bundle at %s: / answers 503 (the APIs work)", root)

    @app.errorhandler(NotFound)
    async def spa_or_not_found(exc: NotFound) -> Response:
        path = request.path
        if request.method not in ("GET", "HEAD") or is_reserved(path):
            return json_error(404, exc.description or "not found")
        index = root / "index.html"
        if not index.is_file():
            return text_error(503, NOT_BUILT)
        head = request.method == "HEAD"
        found = resolve_inside(root, path)
        if found is not None:
            if found == index:
                return await _file(index, NO_CACHE, head)
            cache = IMMUTABLE if path.startswith("/assets/") else SHORT
            return await _file(found, cache, head)
        if path.startswith("/assets/"):  # a stale hashed name: not the page
            return text_error(404, "no such asset")
        return await _file(index, NO_CACHE, head)
