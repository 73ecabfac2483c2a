"""A stand-in for the Application Insights ingestion endpoint (``/v2.1/track``), for tests and demos.

Point ``APPLICATIONINSIGHTS_CONNECTION_STRING`` at it with
``InstrumentationKey=<any guid>;IngestionEndpoint=<url>/;LiveEndpoint=<url>/`` and the Azure Monitor
exporter sends its envelopes here instead of to Azure. Everything received is kept in memory::

    sandbox = start_appinsights_sandbox()
    ...
    sandbox.envelopes            # decoded telemetry items (dicts), in arrival order
    sandbox.events("sync.poison")
    sandbox.raw_bodies           # the request bodies as received (decompressed)
    sandbox.status = 503         # fault injection: answer every track call with this status
    sandbox.stop()
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.azurite import free_port
from devtools.sandbox import announce


@dataclass
class AppInsightsSandbox:
    url: str
    server: ThreadingHTTPServer
    thread: threading.Thread
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    raw_bodies: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connection_string(self) -> str:
        return (
            "InstrumentationKey=00000000-0000-0000-0000-000000000001;"
            f"IngestionEndpoint={self.url}/;LiveEndpoint={self.url}/"
        )

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        """Items by ``baseType``: MessageData, EventData, RemoteDependencyData, MetricData, …"""
        with self.lock:
            items = list(self.envelopes)
        return [e for e in items if e.get("data", {}).get("baseType") == base_type]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = [e["data"]["baseData"] for e in self.of_type("EventData")]
        return [e for e in found if name is None or e.get("name") == name]

    def metrics(self, name: str) -> list[dict[str, Any]]:
        points = []
        for item in self.of_type("MetricData"):
            base = item["data"]["baseData"]
            for metric in base.get("metrics", []):
                if metric.get("name") == name:
                    points.append({**metric, "properties": base.get("properties", {})})
        return points

    def all_text(self) -> str:
        with self.lock:
            return "\n".join(self.raw_bodies)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_appinsights_sandbox() -> AppInsightsSandbox:
    port = free_port()
    holder: dict[str, AppInsightsSandbox] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            sandbox = holder["sandbox"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            text = body.decode("utf-8", errors="replace")
            items: list[dict[str, Any]] = []
            if self.path.rstrip("/").endswith("/track"):
                stripped = text.strip()
                if stripped.startswith("["):
                    items = json.loads(stripped)
                else:
                    items = [json.loads(line) for line in stripped.splitlines() if line.strip()]
            with sandbox.lock:
                sandbox.paths.append(self.path)
                sandbox.raw_bodies.append(text)
                if sandbox.status == 200:
                    sandbox.envelopes.extend(items)
                status = sandbox.status
            answer = json.dumps(
                {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="appinsights-sandbox", daemon=True)
    sandbox = AppInsightsSandbox(url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    holder["sandbox"] = sandbox
    thread.start()
    announce(sandbox)
    return sandbox
