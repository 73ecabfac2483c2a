"""The web portal: plain HTML, CSS and JavaScript modules from the ``portal/`` folder, served under
one route, ``GET /api/portal/{*path}``.

* ``/api/portal/`` is ``index.html`` with the page's configuration embedded (mode, dev sign-in
  allowed or not, the signed-in user when Easy Auth sent one). It is never cached.
* ``/api/portal/v/{version}/{file}`` serves a file under a content hash of the whole folder:
  cached for a year (``immutable``). ``index.html`` links the assets there, so a deploy changes
  every URL at once. Any other file path answers with ``no-cache`` and an ETag (304 on a match).
* Only known file types under the folder are served: no dot-files, no ``..``, no backslashes, no
  symlinks out of the folder; anything else is a 404.
* ``js/devsignin.js`` (the "Ontwikkel-aanmelding") exists only where the dev sign-in is allowed:
  development outside Azure (the principal header is then trusted without Easy Auth).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from shared.api.auth import principal_from_headers
from shared.api.http import ApiResponse, Problem, not_found
from shared.api.operations import Access, Operation, Reply, RequestContext, problem_reply
from shared.settings import Settings

PORTAL_ROOT: Final = Path(__file__).resolve().parents[3] / "portal"
BASE_PATH: Final = "/api/portal"
DEV_ONLY: Final = frozenset({"js/devsignin.js"})
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE: Final = frozenset({".html", ".css", ".js", ".svg", ".txt"})
IMMUTABLE: Final = "private, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The page loads its own files and calls its own API only; no inline script runs.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\Z")
_MAX_PATH = 200


@dataclass(frozen=True)
class Asset:
    relative: str
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


class PortalFiles:
    """The files of the portal folder, read lazily and kept while unchanged on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._lock = threading.Lock()
        self._assets: dict[str, tuple[tuple[int, int], Asset]] = {}
        self._version: tuple[tuple[tuple[str, int, int], ...], str] | None = None

    def resolve(self, relative: str) -> Path | None:
        """The file for a request path below the folder, or None (never outside the folder)."""
        if not relative or len(relative) > _MAX_PATH:
            return None
        parts = relative.split("/")
        if not all(_SEGMENT.match(part) for part in parts):  # no "", ".", "..", ".x", "a\\b"
            return None
        candidate = self.root.joinpath(*parts)
        if candidate.suffix.lower() not in CONTENT_TYPES:
            return None
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real

    def asset(self, relative: str) -> Asset | None:
        path = self.resolve(relative)
        if path is None:
            return None
        stat = path.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._assets.get(relative)
            if cached is not None and cached[0] == signature:
                return cached[1]
        asset = _load(relative, path.read_bytes())
        with self._lock:
            self._assets[relative] = (signature, asset)
        return asset

    def version(self) -> str:
        """A short hash over every file's name and content: changes with any deploy."""
        files = sorted(p for p in self.root.rglob("*") if p.is_file())
        signature = tuple(
            (p.relative_to(self.root).as_posix(), p.stat().st_mtime_ns, p.stat().st_size)
            for p in files
        )
        with self._lock:
            if self._version is not None and self._version[0] == signature:
                return self._version[1]
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        version = digest.hexdigest()[:16]
        with self._lock:
            self._version = (signature, version)
        return version


def _load(relative: str, body: bytes) -> Asset:
    suffix = Path(relative).suffix.lower()
    gzipped = (
        gzip.compress(body, compresslevel=9, mtime=0)
        if suffix in COMPRESSIBLE and len(body) > 1024
        else None
    )
    return Asset(
        relative=relative,
        body=body,
        gzipped=gzipped,
        content_type=CONTENT_TYPES[suffix],
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


@lru_cache(maxsize=1)
def portal_files() -> PortalFiles:
    return PortalFiles(PORTAL_ROOT)


def dev_sign_in_allowed(settings: Settings) -> bool:
    """The dev sign-in exists only in development outside Azure (no Easy Auth to sign in with)."""
    return settings.is_development and not settings.running_in_azure


def page_config(ctx: RequestContext, version: str) -> dict[str, Any]:
    settings = ctx.services.settings
    user = None
    if settings.trusts_principal_header and ctx.request.headers.get("x-ms-client-principal"):
        try:
            principal = principal_from_headers(ctx.request.headers)
        except Problem:
            principal = None
        if principal is not None:
            user = {
                "name": principal.name,
                "officeId": principal.office_id,
                "isAdmin": principal.is_admin,
            }
    dev = dev_sign_in_allowed(settings)
    return {
        "environment": settings.environment.value,
        "devSignIn": dev,
        "user": user,
        "apiBase": "/api",
        "assets": f"{BASE_PATH}/v/{version}",
        "signInUrl": f"/.auth/login/aad?post_login_redirect_uri={BASE_PATH}/",
        "signOutUrl": f"/.auth/logout?post_logout_redirect_uri={BASE_PATH}/",
    }


def _headers(content_type: str, cache: str, **extra: str) -> dict[str, str]:
    headers = {"Content-Type": content_type, "Cache-Control": cache, **SECURITY_HEADERS}
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CSP
    headers.update(extra)
    return headers


def _gzip_allowed(ctx: RequestContext) -> bool:
    """Whether to answer a pre-compressed body with ``Content-Encoding: gzip``.

    [I] Assumption: the Functions host (and Easy Auth in front of it) passes our
    ``Content-Encoding`` header and the binary body through unchanged, without compressing again;
    the docs do not say. Should it not hold, answering ``False`` here serves plain files.
    """
    accepted = ctx.request.headers.get("accept-encoding", "").lower()
    return any(part.split(";")[0].strip() == "gzip" for part in accepted.split(","))


def _send(ctx: RequestContext, asset: Asset, cache: str) -> ApiResponse:
    if_none_match = ctx.request.headers.get("if-none-match", "")
    vary = {"Vary": "Accept-Encoding"} if asset.gzipped is not None else {}
    if asset.etag in [tag.strip() for tag in if_none_match.split(",")]:
        return ApiResponse(304, b"", _headers(asset.content_type, cache, ETag=asset.etag, **vary))
    if asset.gzipped is not None and _gzip_allowed(ctx):
        return ApiResponse(
            200,
            asset.gzipped,
            _headers(
                asset.content_type, cache, ETag=asset.etag, **{"Content-Encoding": "gzip"}, **vary
            ),
        )
    return ApiResponse(
        200, asset.body, _headers(asset.content_type, cache, ETag=asset.etag, **vary)
    )


def _index(ctx: RequestContext, files: PortalFiles) -> ApiResponse:
    template = files.asset("index.html")
    if template is None:
        raise not_found("Het portaal is niet meegeleverd met deze installatie.")
    version = files.version()
    config = json.dumps(page_config(ctx, version), ensure_ascii=False).replace("<", "\\u003c")
    html = (
        template.body.decode()
        .replace("{{ASSETS}}", f"{BASE_PATH}/v/{version}")
        .replace("{{CONFIG}}", config)
    )
    page = _load("index.html", html.encode())
    # The page carries the signed-in user: never stored by a cache, always asked anew.
    return _send(ctx, page, "no-store")


def serve_portal(ctx: RequestContext) -> ApiResponse:
    # [I] Assumption: the Functions host routes both /api/portal and /api/portal/ here with an
    # empty (absent) catch-all value, as ASP.NET Core routing does; the page itself must be at
    # /api/portal/ so that relative links resolve, hence the redirect.
    raw = ctx.request.route_params.get("path", "") or ""
    if not raw and not urlsplit(ctx.request.url).path.endswith("/"):
        return ApiResponse(301, b"", {"Location": f"{BASE_PATH}/", "Cache-Control": "no-cache"})
    files = portal_files()
    if raw in ("", "index.html"):
        return _index(ctx, files)
    relative, cache = raw, REVALIDATE
    parts = raw.split("/")
    if len(parts) > 2 and parts[0] == "v":
        relative = "/".join(parts[2:])
        cache = IMMUTABLE if parts[1] == files.version() else REVALIDATE
    if relative in DEV_ONLY and not dev_sign_in_allowed(ctx.services.settings):
        raise not_found("Dit bestand bestaat niet.")
    asset = files.asset(relative) if relative != "index.html" else None
    if asset is None:
        raise not_found("Deze pagina of dit bestand bestaat niet in het portaal.")
    return _send(ctx, asset, cache)


PORTAL = Operation(
    name="portal",
    method="GET",
    route="portal/{*path}",
    access=Access.PUBLIC,
    summary="The web portal (HTML, CSS, JavaScript); the API calls it makes carry the sign-in",
    description="`/api/portal/` is the page (Dutch). Static files only; in Azure the whole "
    "route is behind App Service Authentication like every other non-callback route.",
    tag="portal",
    handler=serve_portal,
    replies={
        200: Reply("A portal file.", content_type="text/html", schema={"type": "string"}),
        301: Reply("/api/portal → /api/portal/."),
        304: Reply("Not modified (If-None-Match matched the ETag)."),
        404: problem_reply("No such file."),
    },
)
