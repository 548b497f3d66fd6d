"""The scorer's HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for Kubernetes."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # scrapes every 15 s would drown the log
        pass


def endpoints(registry: CollectorRegistry, alive: Callable[[], bool], ready: Callable[[], tuple[bool, str]]):
    """A WSGI app: ``/metrics``; ``/healthz`` (the loop is ticking); ``/readyz`` (warm and reading Prometheus)."""
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/healthz":
            ok, text = alive(), "ticking"
        elif path == "/readyz":
            ok, text = ready()
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics, /healthz or /readyz\n"]
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
        return [(text if ok else f"not ready: {text}").encode() + b"\n"]

    return app


class HttpServer:
    """Serve a WSGI app on ``address:port`` in a daemon thread."""

    def __init__(self, app, address: str, port: int):
        self._server = make_server(address, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="scorer-http", daemon=True)

    def start(self) -> "HttpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
