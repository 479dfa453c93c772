"""Real receivers for notification tests: an SMTP server (aiosmtpd) and a webhook
endpoint (http.server), each on a free loopback port, recording what arrives."""

from __future__ import annotations

import email
import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SmtpSink:
    """aiosmtpd's Controller: a real SMTP server in a thread; `messages` as parsed."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from fleet.server.testing import free_port

        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._cond = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        with self._cond:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(email.message_from_bytes(envelope.content))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, count: int, timeout: float = 10.0) -> list[Message]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"timed out waiting for {count} e-mail(s); got {len(self.messages)}")
            return list(self.messages)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class WebhookSink:
    """An HTTP server recording JSON POST bodies; `status` is what it answers."""

    def __init__(self) -> None:
        sink = self
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self._cond = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = sink.status
                if status < 300:
                    with sink._cond:
                        sink.posts.append(json.loads(body))
                        sink._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="webhook-sink")

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.posts) >= count, timeout):
                raise AssertionError(f"timed out waiting for {count} webhook post(s); got {len(self.posts)}")
            return list(self.posts)

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
