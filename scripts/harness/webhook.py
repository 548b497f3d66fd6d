"""A local HTTP receiver that records every JSON body POSTed to it (Alertmanager's webhook)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from scripts.harness.process import wait_until


class WebhookReceiver:
    """Listen on 127.0.0.1 in a background thread; keep what arrives in :attr:`received`.

    Each item is ``{"path", "received_at", "body"}``; bodies that are not JSON are kept as
    text. Use :meth:`wait_for` to block until a matching notification arrives.
    """

    def __init__(self, port: int = 0):
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with receiver._lock:
                    receiver.received.append({"path": self.path, "received_at": time.time(), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> "WebhookReceiver":
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert inside every Alertmanager notification received so far."""
        return [alert for item in self.snapshot() if isinstance(item["body"], dict)
                for alert in item["body"].get("alerts", [])]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        """Wait until a received item satisfies ``predicate``; return it."""

        def found() -> dict[str, Any] | None:
            return next((item for item in self.snapshot() if predicate(item)), None)

        return wait_until(found, timeout, what, on_timeout=lambda: f"received so far: {self.snapshot()!r}")
