"""What a token endpoint or a callback puts in ``error`` reaches logs and messages only when it is
a plain OAuth error code (``shared.oauth.consent.oauth_error_code``): an SB token endpoint that
echoes the refresh token in its ``error`` field must not get it into a log line."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from shared.afas.errors import AfasAuthError
from shared.afas.oauth import SbOAuth
from shared.clock import utc_now
from shared.oauth.consent import oauth_error_code
from shared.secret import Secret

REFRESH = "refreshTokenValue-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("invalid_grant", "invalid_grant"),
        ("access_denied", "access_denied"),
        (REFRESH, "unknown"),
        ("invalid grant", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        (42, "unknown"),
        ("a" * 65, "unknown"),
    ],
)
def test_only_plain_error_codes_pass(value: object, shown: str) -> None:
    assert oauth_error_code(value) == shown


@pytest.fixture
def echoing_token_endpoint() -> Iterator[str]:
    """A token endpoint that refuses every grant and echoes the refresh token in ``error``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            body = json.dumps({"error": form["refresh_token"][0], "error_description": "no"})
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{environment}}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_an_error_echoing_the_refresh_token_is_not_logged(
    echoing_token_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    oauth = SbOAuth(
        echoing_token_endpoint,
        client_id="loonbrug",
        client_secret=Secret("client-secret-value-1234"),
        redirect_uri="http://127.0.0.1/cb",
        clock=utc_now,
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(AfasAuthError) as refused:
        oauth.refresh("enyoi", Secret(REFRESH))
    assert "SB token endpoint refused refresh_token: HTTP 400 (no error code)" in caplog.text
    assert REFRESH not in caplog.text
    assert REFRESH not in str(refused.value)
