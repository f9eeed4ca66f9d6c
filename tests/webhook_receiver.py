"""A real HTTP server on loopback, in a thread, standing in for a partner agency's system:
it keeps every POST it gets and answers with the statuses a test scripts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []  # statuses to answer, in turn; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, status))
                answer = (b'{"error": "unknown agency code", "detail": "'
                          + b"x" * 500 + b'"}') if status >= 400 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/casebridge/hook?site=1"

    def delivered(self) -> list[Received]:
        """What a receiver that drops a repeated Idempotency-Key would act on: each key's
        first call it answered with success."""
        acted, keys = [], set()
        for request in self.received:
            if request.status < 300 and request.headers["Idempotency-Key"] not in keys:
                keys.add(request.headers["Idempotency-Key"])
                acted.append(request)
        return acted

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
