"""An SMTP sandbox on loopback (aiosmtpd): keeps every mail it receives for assertions.

    sandbox = start_smtp_sandbox()      # 127.0.0.1, a free port, in a background thread
    sandbox.env()                       # {"SMTP_HOST": ..., "SMTP_PORT": ...} for the app
    sandbox.wait_for(1, timeout=10)     # the received mails (email.message.EmailMessage)
    sandbox.refuse = True               # fault injection: answer 451 to every message
    sandbox.stop()

``python -m devtools.sandbox.smtp --port 1025`` runs it by hand and prints what arrives.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from devtools.azurite import free_port


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


@dataclass
class _Handler:
    sandbox: SmtpSandbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sandbox.refuse:
            return "451 4.3.0 sandbox refuses mail (fault injection)"
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        assert isinstance(message, EmailMessage)
        with self.sandbox.lock:
            self.sandbox.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message)
            )
        return "250 OK"


@dataclass
class SmtpSandbox:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, count: int, *, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.received()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {count} mail(s); got {len(found)}: "
                    f"{[m.subject for m in found]}"
                )
            time.sleep(0.05)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def start_smtp_sandbox(port: int | None = None) -> SmtpSandbox:
    sandbox = SmtpSandbox(port=port or free_port())
    controller = Controller(
        _Handler(sandbox), hostname=sandbox.host, port=sandbox.port, ready_timeout=10
    )
    controller.start()
    sandbox._controller = controller
    return sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args()
    sandbox = start_smtp_sandbox(args.port)
    print(f"SMTP sandbox on {sandbox.url}; Ctrl-C stops it", flush=True)
    seen = 0
    try:
        while True:
            mails = sandbox.received()
            for mail in mails[seen:]:
                print(
                    f"--- to {', '.join(mail.envelope_to)}: {mail.subject}\n{mail.text}", flush=True
                )
            seen = len(mails)
            time.sleep(0.5)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
