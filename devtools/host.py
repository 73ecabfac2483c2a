"""A local stand-in for the Azure Functions host (Core Tools cannot be installed here).

    python -m devtools.host --port 7071

It imports ``function_app.app`` and runs the real function objects that ``app.get_functions()``
exposes, the way the Functions host does:

* HTTP triggers under ``/{routePrefix}`` (``api``), with the Functions route template syntax.
* Queue triggers against the storage named by each binding's ``connection`` setting, with the
  ``host.json`` semantics: ``batchSize`` + ``newBatchThreshold`` concurrency, a renewed
  invisibility lease while a function runs, ``visibilityTimeout`` before a retry,
  ``maxDequeueCount`` then ``<queue>-poison``, Base64 message encoding, and ``dequeue_count``
  passed to the function.
* Timer triggers on their NCRONTAB schedule (six fields, UTC), with ``runOnStartup``.
* ``POST /admin/functions/{name}`` (body ``{"input": ""}``) runs any non-HTTP function now and
  answers 202; ``GET /admin/host/status`` answers the host state.

Settings come from ``local.settings.json`` (``Values``) when present, overridden by the environment.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("devtools.host")

ROOT = Path(__file__).resolve().parent.parent


# -- configuration ------------------------------------------------------------------------------


def _timespan(value: str | int | float | None, default: float) -> float:
    """host.json timespans are "hh:mm:ss" strings."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    parts = [float(p) for p in str(value).split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 2.0  # local default, as in Core Tools

    @classmethod
    def from_host_json(cls, data: dict[str, Any]) -> QueueOptions:
        queues = data.get("extensions", {}).get("queues", {})
        batch = int(queues.get("batchSize", 16))
        return cls(
            batch_size=batch,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch // 2)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=_timespan(queues.get("visibilityTimeout"), 0.0),
            max_polling_interval=min(_timespan(queues.get("maxPollingInterval"), 2.0), 2.0),
        )


def load_local_settings(path: Path) -> dict[str, str]:
    text = path.read_text() if path.exists() else ""
    if not text.strip():
        return {}
    data = json.loads(text)
    return {str(k): str(v) for k, v in (data.get("Values") or {}).items()}


def apply_settings(values: dict[str, str]) -> None:
    """local.settings.json values, overridden by whatever the environment already has."""
    for key, value in values.items():
        os.environ.setdefault(key, value)


def _resolve(value: str) -> str:
    """Binding expressions like ``%NAME%`` resolve from app settings."""
    return re.sub(r"%([^%]+)%", lambda m: os.environ[m.group(1)], value)


# -- function index -----------------------------------------------------------------------------


@dataclass
class Function:
    name: str
    trigger: dict[str, Any]
    call: Callable[..., Any]

    @property
    def kind(self) -> str:
        return str(self.trigger["type"])

    @property
    def arg(self) -> str:
        return str(self.trigger["name"])


def index_functions(app: Any) -> dict[str, Function]:
    """The functions of ``app`` as the host would index them (from ``get_functions()``)."""
    found: dict[str, Function] = {}
    for fn in app.get_functions():
        spec = json.loads(fn.get_function_json())
        trigger = next(b for b in spec["bindings"] if b["type"].endswith("Trigger"))
        found[fn.get_function_name()] = Function(
            fn.get_function_name(), trigger, fn.get_user_function()
        )
    return found


def invoke(function: Function, reason: str, **kwargs: Any) -> tuple[bool, Any]:
    """Run one function like the host: log start and end, never let an exception escape."""
    invocation = uuid.uuid4()
    log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation)
    started = time.perf_counter()
    try:
        result = function.call(**kwargs)
    except Exception:
        log.exception(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
            function.name,
            invocation,
            (time.perf_counter() - started) * 1000,
        )
        return False, None
    log.info(
        "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
        function.name,
        invocation,
        (time.perf_counter() - started) * 1000,
    )
    return True, result


# -- HTTP ---------------------------------------------------------------------------------------


def route_pattern(template: str) -> re.Pattern[str]:
    """Turn a Functions route template (``clients/{clientId}``, ``{id?}``, ``{*rest}``) into a regex."""
    out = ""
    for literal, param in re.findall(r"([^{]*)(\{[^}]*\})?", template):
        out += re.escape(literal)
        if param:
            name = param[1:-1]
            optional = name.endswith("?")
            catch_all = name.startswith("*")
            name = name.strip("*?").split(":")[0]
            body = f"(?P<{name}>.*)" if catch_all else f"(?P<{name}>[^/]+)"
            if optional or catch_all:  # ASP.NET routing: a catch-all may be empty
                out = out.removesuffix("/") + f"(?:/{body})?"
            else:
                out += body
    # DOTALL and \Z: a catch-all takes any character, a line break too, as ASP.NET routing does
    # (found by the API fuzz soak: /api/portal/%0A fell through to the host's bare 404).
    return re.compile(f"^{out}/?\\Z", re.IGNORECASE | re.DOTALL)


@dataclass
class HttpRoute:
    function: Function
    pattern: re.Pattern[str]
    methods: frozenset[str]
    specificity: int


def http_routes(functions: Iterable[Function]) -> list[HttpRoute]:
    routes = []
    for fn in functions:
        if fn.kind != "httpTrigger":
            continue
        template = fn.trigger.get("route") or fn.name
        methods = frozenset(m.upper() for m in fn.trigger.get("methods") or [])
        literal_segments = sum(1 for seg in template.split("/") if "{" not in seg)
        routes.append(HttpRoute(fn, route_pattern(template), methods, literal_segments))
    return sorted(routes, key=lambda r: -r.specificity)


class WsgiApp:
    def __init__(self, host: LocalHost) -> None:
        self.host = host

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)  # type: ignore[no-any-return]

    def dispatch(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        path = request.path
        if path.startswith("/admin/"):
            return self.admin(request)
        if path == "/" and self.host.portal_url:
            # The OAuth callbacks send the browser to PUBLIC_BASE_URL/; locally that is the portal.
            return Response(status=302, headers={"Location": self.host.portal_url})
        prefix = f"/{self.host.route_prefix}/" if self.host.route_prefix else "/"
        if not path.startswith(prefix):
            return Response(status=404)
        relative = path[len(prefix) :]
        allowed: set[str] = set()
        for route in self.host.routes:
            match = route.pattern.match(relative)
            if not match:
                continue
            if route.methods and request.method.upper() not in route.methods:
                allowed |= route.methods
                continue
            return self.call_http(route, request, {k: v for k, v in match.groupdict().items() if v})
        if allowed:
            return Response(status=405, headers={"Allow": ", ".join(sorted(allowed))})
        return Response(status=404)

    def call_http(self, route: HttpRoute, request: Any, params: dict[str, str]) -> Any:
        import azure.functions as func
        from werkzeug.wrappers import Response

        req = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            params={k: v for k, v in request.args.items()},
            route_params=params,
            body=request.get_data(),
        )
        ok, result = invoke(
            route.function,
            "This function was programmatically called via the host APIs.",
            **{route.function.arg: req},
        )
        if not ok:
            return Response(status=500)
        if isinstance(result, str):
            return Response(result, status=200, content_type="text/plain; charset=utf-8")
        headers = dict(result.headers)
        if not any(k.lower() == "content-type" for k in headers) and result.mimetype:
            headers["Content-Type"] = f"{result.mimetype}; charset={result.charset or 'utf-8'}"
        return Response(result.get_body(), status=result.status_code, headers=headers)

    def admin(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        if request.path == "/admin/host/status":
            body = json.dumps({"state": "Running", "version": "devtools-local"})
            return Response(body, status=200, content_type="application/json")
        match = re.match(r"^/admin/functions/([^/]+)$", request.path)
        if not match or request.method != "POST":
            return Response(status=404)
        function = self.host.functions.get(match.group(1))
        if function is None:
            return Response(status=404)
        if function.kind == "httpTrigger":
            return Response("Use the HTTP route to call an HTTP function.", status=400)
        try:
            payload = json.loads(request.get_data() or b"{}")
            text = str(payload.get("input", "")) if isinstance(payload, dict) else ""
        except ValueError:
            return Response('Body must be JSON: {"input": "..."}', status=400)
        self.host.run_now(function, text)
        return Response(status=202)


# -- queues -------------------------------------------------------------------------------------


@dataclass
class _InFlight:
    message_id: str
    pop_receipt: str
    lock: threading.Lock = field(default_factory=threading.Lock)


class QueueListener:
    """Polls one queue and runs one function per message with the host.json semantics."""

    def __init__(self, host: LocalHost, function: Function) -> None:
        from azure.storage.queue import QueueClient

        self.host = host
        self.function = function
        self.options = host.queue_options
        queue_name = _resolve(function.trigger["queueName"])
        connection = os.environ[function.trigger.get("connection") or "AzureWebJobsStorage"]
        # Raw client: we decode Base64 ourselves so an undecodable message can be dead-lettered.
        self.queue = QueueClient.from_connection_string(connection, queue_name)
        self.poison = QueueClient.from_connection_string(connection, f"{queue_name}-poison")
        self.queue_name = queue_name
        self.pool = ThreadPoolExecutor(
            max_workers=self.options.batch_size + self.options.new_batch_threshold,
            thread_name_prefix=f"queue-{function.name}",
        )
        self.in_flight: dict[str, _InFlight] = {}
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self.run, name=f"listen-{function.name}", daemon=True)
        self.renewer = threading.Thread(
            target=self.renew, name=f"renew-{function.name}", daemon=True
        )

    def start(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        for client in (self.queue, self.poison):
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
        self.thread.start()
        self.renewer.start()

    def run(self) -> None:
        delay = 0.05
        while not self.host.stopping.is_set():
            with self.lock:
                while len(self.in_flight) > self.options.new_batch_threshold:
                    self.lock.wait(timeout=0.2)
                    if self.host.stopping.is_set():
                        return
            try:
                messages = list(
                    self.queue.receive_messages(
                        max_messages=self.options.batch_size,
                        visibility_timeout=int(self.host.queue_lease),
                    )
                )
            except Exception as exc:
                log.warning("queue %s: receive failed: %s", self.queue_name, exc)
                messages = []
            if not messages:
                self.host.stopping.wait(delay)
                delay = min(delay * 2, self.options.max_polling_interval)
                continue
            delay = 0.05
            for message in messages:
                with self.lock:
                    self.in_flight[message.id] = _InFlight(message.id, message.pop_receipt or "")
                self.pool.submit(self.process, message)

    def renew(self) -> None:
        """Keep running messages invisible, as the host renews its lease."""
        interval = max(self.host.queue_lease / 2, 0.5)
        while not self.host.stopping.wait(interval):
            with self.lock:
                entries = list(self.in_flight.values())
            for entry in entries:
                with entry.lock:
                    try:
                        receipt = self.queue.update_message(
                            entry.message_id,
                            entry.pop_receipt,
                            visibility_timeout=int(self.host.queue_lease),
                        )
                        entry.pop_receipt = receipt.pop_receipt or entry.pop_receipt
                    except Exception as exc:
                        log.debug("lease renewal failed for %s: %s", entry.message_id, exc)

    def process(self, message: Any) -> None:
        from azure.functions.queue import QueueMessage

        entry = self.in_flight[message.id]
        try:
            try:
                body = base64.b64decode(message.content, validate=True)
            except (binascii.Error, ValueError):
                # The Functions host cannot bind an undecodable message and moves it to the
                # poison queue at once, as it is ([I]: Azure/azure-sdk-for-net#21449).
                log.error(
                    "queue %s: message %s is not Base64; moving it to poison",
                    self.queue_name,
                    message.id,
                )
                self.dead_letter(entry, message.content)
                return
            if message.dequeue_count > self.options.max_dequeue_count:
                self.dead_letter(entry, message.content)
                return
            msg = QueueMessage(
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                pop_receipt=entry.pop_receipt,
                insertion_time=message.inserted_on,
                expiration_time=message.expires_on,
                time_next_visible=message.next_visible_on,
            )
            ok, _ = invoke(
                self.function,
                f"New queue message detected on '{self.queue_name}'.",
                **{self.function.arg: msg},
            )
            with entry.lock:
                if ok:
                    self.queue.delete_message(entry.message_id, entry.pop_receipt)
                elif message.dequeue_count >= self.options.max_dequeue_count:
                    self.dead_letter(entry, message.content, locked=True)
                else:
                    self.queue.update_message(
                        entry.message_id,
                        entry.pop_receipt,
                        visibility_timeout=int(self.options.visibility_timeout),
                    )
        except Exception as exc:
            log.warning(
                "queue %s: could not settle message %s: %s", self.queue_name, message.id, exc
            )
        finally:
            with self.lock:
                self.in_flight.pop(message.id, None)
                self.lock.notify_all()

    def dead_letter(self, entry: _InFlight, content: str, *, locked: bool = False) -> None:
        """Copy the message to ``<queue>-poison`` as stored (a copy always fits: it fitted
        here), then delete it."""
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s-poison'.",
            self.options.max_dequeue_count,
            self.queue_name,
        )
        self.poison.send_message(content)
        if locked:
            self.queue.delete_message(entry.message_id, entry.pop_receipt)
        else:
            with entry.lock:
                self.queue.delete_message(entry.message_id, entry.pop_receipt)

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


# -- timers -------------------------------------------------------------------------------------


def next_occurrence(schedule: str, after: datetime) -> datetime:
    """Next fire time (UTC) of a six-field NCRONTAB expression ("sec min hour day month dow")."""
    from croniter import croniter

    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB needs six fields: {schedule!r}")
    expression = " ".join(fields[1:] + fields[:1])  # croniter puts seconds last
    result: datetime = croniter(expression, after).get_next(datetime)
    return result


class TimerRunner:
    def __init__(self, host: LocalHost, function: Function) -> None:
        self.host = host
        self.function = function
        self.schedule = _resolve(function.trigger["schedule"])
        self.thread = threading.Thread(target=self.run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def fire(self, *, past_due: bool, reason: str) -> None:
        from azure.functions.timer import TimerRequest

        invoke(self.function, reason, **{self.function.arg: TimerRequest(past_due=past_due)})

    def run(self) -> None:
        if self.function.trigger.get("runOnStartup"):
            self.fire(past_due=False, reason="New ScheduleStatus")
        due = next_occurrence(self.schedule, datetime.now(UTC))
        while True:
            wait = (due - datetime.now(UTC)).total_seconds()
            if self.host.stopping.wait(max(wait, 0)):
                return
            late = datetime.now(UTC) - due > timedelta(seconds=5)
            self.fire(past_due=late, reason=f"Timer fired at {datetime.now(UTC).isoformat()}")
            due = next_occurrence(self.schedule, datetime.now(UTC))


# -- the host -----------------------------------------------------------------------------------


class LocalHost:
    def __init__(
        self,
        app: Any,
        *,
        host_json: dict[str, Any],
        queue_lease: float = 600.0,
        timers: bool = True,
        queues: bool = True,
    ) -> None:
        self.functions = index_functions(app)
        self.route_prefix = (
            host_json.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        )
        self.routes = http_routes(self.functions.values())
        portal = next(
            (
                r
                for r in self.routes
                if (r.function.trigger.get("route") or "").startswith("portal/")
            ),
            None,
        )
        self.portal_url = f"/{self.route_prefix}/portal/" if portal else None
        self.queue_options = QueueOptions.from_host_json(host_json)
        self.queue_lease = queue_lease
        self.stopping = threading.Event()
        self.listeners = (
            [QueueListener(self, f) for f in self.functions.values() if f.kind == "queueTrigger"]
            if queues
            else []
        )
        self.timers = (
            [TimerRunner(self, f) for f in self.functions.values() if f.kind == "timerTrigger"]
            if timers
            else []
        )
        self.admin_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="admin")

    def start_background(self) -> None:
        for listener in self.listeners:
            listener.start()
        for timer in self.timers:
            timer.start()

    def run_now(self, function: Function, text: str) -> None:
        """Admin invocation of a non-HTTP function, asynchronously (the host answers 202)."""
        if function.kind == "timerTrigger":
            from azure.functions.timer import TimerRequest

            arg: Any = TimerRequest(past_due=False)
        else:
            from azure.functions.queue import QueueMessage

            arg = QueueMessage(id=str(uuid.uuid4()), body=text.encode(), dequeue_count=1)
        self.admin_pool.submit(
            invoke,
            function,
            "This function was programmatically called via the host APIs.",
            **{function.arg: arg},
        )

    def stop(self) -> None:
        self.stopping.set()
        for listener in self.listeners:
            listener.stop()
        self.admin_pool.shutdown(wait=True)


def install_kill_switch(spec: str) -> None:
    """The whole host dies (SIGKILL: no cleanup, no lease released) the first time a sync job
    passes the worker checkpoint ``step``: a Functions host killed mid-run at a known point.
    ``spec`` is ``STEP`` or ``STEP@CLIENT`` (only that client's job pulls the switch)."""
    from shared import telemetry
    from shared.bootstrap import get_services

    step, _, client = spec.partition("@")

    def checkpoint(at: str) -> None:
        if at != step:
            return
        if not client or telemetry.current_job().get(telemetry.Dim.CLIENT_ID.value) == client:
            log.warning("kill switch: sync job reached %s; killing the host now", at)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    get_services().worker_deps.checkpoint = checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.host", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--settings", default="local.settings.json", help="local settings file")
    parser.add_argument(
        "--host-json", default="host.json", help="host.json with the queue settings"
    )
    parser.add_argument(
        "--queue-lease", type=float, default=600.0, help="seconds a running message stays invisible"
    )
    parser.add_argument(
        "--no-timers", action="store_true", help="do not fire timers on their schedule"
    )
    parser.add_argument(
        "--kill-at",
        metavar="STEP[@CLIENT]",
        help="fault injection (tests): SIGKILL this host when a sync job (of CLIENT, if given) "
        "reaches the worker checkpoint STEP (listed, read, prechecked, booked, recorded, marked)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=os.environ.get("DEVHOST_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("azure", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    apply_settings(load_local_settings(Path(args.settings)))
    sys.path.insert(0, str(Path.cwd()))
    started = time.perf_counter()
    try:
        from function_app import app
    except Exception as exc:  # a bad setting: one line naming it, as the Functions host would
        log.error("The function app could not start: %s", exc)
        return 2
    if args.kill_at:
        install_kill_switch(args.kill_at)
    host_json = json.loads(Path(args.host_json).read_text())
    host = LocalHost(
        app, host_json=host_json, queue_lease=args.queue_lease, timers=not args.no_timers
    )

    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, WsgiApp(host), threaded=True)

    def shutdown(signum: int, frame: Any) -> None:
        log.info("stopping (signal %d)", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    host.start_background()
    log.info(
        "Loonbrug local host ready on http://%s:%d (%d functions: %s) in %.0f ms",
        args.host,
        server.server_port,
        len(host.functions),
        ", ".join(sorted(host.functions)),
        (time.perf_counter() - started) * 1000,
    )
    try:
        server.serve_forever()
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
