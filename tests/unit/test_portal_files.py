"""The portal route: content types, caching, gzip, no path traversal, dev sign-in only in dev."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from shared.api.handlers.portal import PORTAL, PORTAL_ROOT, PortalFiles, portal_files
from shared.api.http import ApiRequest, ApiResponse, Headers
from shared.api.operations import handle
from shared.bootstrap import Services
from shared.settings import Settings
from tests.conftest import base_env
from tests.support.api import admin_headers

DEV = base_env("UseDevelopmentStorage=true")
PRODUCTION_IN_AZURE = {
    **DEV,
    "LOONBRUG_ENVIRONMENT": "production",
    "WEBSITE_SITE_NAME": "func-loonbrug",
    "WEBSITE_AUTH_ENABLED": "true",
}


def get(
    path: str,
    *,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    url: str | None = None,
) -> ApiResponse:
    request = ApiRequest(
        method="GET",
        url=url or f"http://127.0.0.1:7071/api/portal/{path}",
        headers=Headers(headers or {}),
        route_params={"path": path} if path else {},
    )
    return handle(PORTAL, request, Services(Settings.from_env(env or DEV)))


def page_config(answer: ApiResponse) -> dict[str, object]:
    found = re.search(
        rb'<script type="application/json" id="portal-config">(.*?)</script>', answer.body
    )
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_the_index_embeds_the_config_and_versioned_asset_links() -> None:
    answer = get("")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    version = portal_files().version()
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert f'src="/api/portal/v/{version}/js/main.js"'.encode() in answer.body
    assert b"{{" not in answer.body
    config = page_config(answer)
    assert config["devSignIn"] is True and config["environment"] == "development"
    assert config["user"] is None  # the browser sends the dev principal itself
    assert get("index.html").body == answer.body


def test_without_the_trailing_slash_the_page_redirects() -> None:
    answer = get("", url="http://127.0.0.1:7071/api/portal")
    assert (answer.status, answer.headers["Location"]) == (301, "/api/portal/")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("js/main.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_files_have_their_content_type_and_revalidate_unversioned(
    path: str, content_type: str
) -> None:
    answer = get(path)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.body == (PORTAL_ROOT / path).read_bytes()
    etag = answer.headers["ETag"]
    again = get(path, headers={"If-None-Match": etag})
    assert (again.status, again.body, again.headers["ETag"]) == (304, b"", etag)
    assert get(path, headers={"If-None-Match": '"other"'}).status == 200


def test_versioned_files_are_immutable_and_an_old_version_is_not() -> None:
    version = portal_files().version()
    current = get(f"v/{version}/js/runs.js")
    assert current.status == 200
    assert current.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    old = get("v/0000000000000000/js/runs.js")
    assert (old.status, old.headers["Cache-Control"]) == (200, "no-cache")


def test_gzip_when_the_browser_accepts_it() -> None:
    plain = get("js/clients.js")
    packed = get("js/clients.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert len(packed.body) < len(plain.body) / 2
    assert gzip.decompress(packed.body) == plain.body
    assert "Content-Encoding" not in plain.headers


@pytest.mark.parametrize(
    "path",
    [
        "../pyproject.toml",
        "../../function_app.py",
        "js/../../function_app.py",
        "js/../app.css",
        "./app.css",
        "v/x/../../pyproject.toml",
        "..%2fpyproject.toml",
        "%2e%2e/pyproject.toml",
        "js\\..\\..\\pyproject.toml",
        "/etc/passwd",
        "//etc/passwd",
        "js//main.js",
        "js/",
        ".git/config",
        "js/.secret.js",
        "index.html\x00.js",
        "README.md",
        "js/main.js.map",
        "js",
        "v/" + "a" * 300,
    ],
)
def test_no_path_leaves_the_portal_folder(path: str) -> None:
    answer = get(path)
    assert answer.status == 404, (path, answer.status)
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(answer.body)["detail"].startswith("Deze pagina")


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "portal"
    root.mkdir()
    (root / "ok.css").write_text("body{}")
    outside = tmp_path / "secret.css"
    outside.write_text("secret")
    (root / "leak.css").symlink_to(outside)
    files = PortalFiles(root)
    assert files.asset("ok.css") is not None
    assert files.resolve("leak.css") is None
    assert files.asset("leak.css") is None


def test_the_version_changes_with_any_file(tmp_path: Path) -> None:
    root = tmp_path / "portal"
    root.mkdir()
    (root / "a.js").write_text("1")
    files = PortalFiles(root)
    first = files.version()
    (root / "a.js").write_text("22")
    assert files.version() != first
    assert files.asset("a.js") is not None and files.asset("a.js").body == b"22"  # type: ignore[union-attr]


def test_the_dev_sign_in_exists_only_in_development_outside_azure() -> None:
    assert get("js/devsignin.js").status == 200
    production = get("js/devsignin.js", env=PRODUCTION_IN_AZURE)
    assert production.status == 404
    dev_in_azure = {**PRODUCTION_IN_AZURE, "LOONBRUG_ENVIRONMENT": "development"}
    assert get("js/devsignin.js", env=dev_in_azure).status == 404
    config = page_config(get("", env=PRODUCTION_IN_AZURE))
    assert config["devSignIn"] is False and config["environment"] == "production"
    assert config["signInUrl"] == "/.auth/login/aad?post_login_redirect_uri=/api/portal/"


def test_in_azure_the_page_knows_the_easy_auth_user() -> None:
    headers = admin_headers("office-7", user_id="u-7")
    config = page_config(get("", env=PRODUCTION_IN_AZURE, headers=headers))
    assert config["user"] == {"name": "Test Gebruiker", "officeId": "office-7", "isAdmin": True}
    # Without Easy Auth the header is not believed (production outside Azure).
    outside = {**PRODUCTION_IN_AZURE, "WEBSITE_SITE_NAME": "", "WEBSITE_AUTH_ENABLED": ""}
    assert page_config(get("", env=outside, headers=headers))["user"] is None
    garbage = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"not json").decode()}
    assert page_config(get("", env=PRODUCTION_IN_AZURE, headers=garbage))["user"] is None


def test_the_config_cannot_break_out_of_its_script_tag() -> None:
    headers = {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(
            json.dumps(
                {
                    "claims": [
                        {"typ": "tid", "val": "office-8"},
                        {"typ": "oid", "val": "u-8"},
                        {"typ": "name", "val": "</script><script>alert(1)</script>"},
                    ]
                }
            ).encode()
        ).decode()
    }
    answer = get("", env=PRODUCTION_IN_AZURE, headers=headers)
    assert b"</script><script>" not in answer.body
    assert page_config(answer)["user"] == {
        "name": "</script><script>alert(1)</script>",
        "officeId": "office-8",
        "isAdmin": False,
    }


def test_every_portal_file_is_served_with_a_known_type() -> None:
    served = [p.relative_to(PORTAL_ROOT).as_posix() for p in PORTAL_ROOT.rglob("*") if p.is_file()]
    assert "index.html" in served and "js/main.js" in served
    for path in served:
        assert get(path).status == 200, path
