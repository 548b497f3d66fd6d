"""The scorer's HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for Kubernetes."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

WORKERS = 4
"""Threads that answer requests. Scrapes and probes are a few a second at most, each a
millisecond: four leave room for a slow scrape."""

MAX_CONNECTIONS = 32
"""Connections open at once; past it, the one waiting longest for its request is closed for
each new one. Well below any file-descriptor limit, so that the state saves always get one."""

CONNECTION_TIMEOUT_SECONDS = 5.0
"""A connection that sends no complete request within this is closed (each read waits at most this)."""


class _BoundedWSGIServer(WSGIServer):
    """A WSGI server with a fixed pool of handler threads and a cap on open connections.

    A connection waits for its request in the acceptor's selector, not in a handler thread,
    so idle connections hold no thread: they are closed when silent for
    ``CONNECTION_TIMEOUT_SECONDS``, or, oldest first, when ``MAX_CONNECTIONS`` are open and
    another arrives. A probe or a scrape therefore always gets in and gets a thread.
    """

    request_queue_size = 64

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: dict[socket.socket, tuple[object, float]] = {}  # oldest first
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._stopping = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="scorer-http")

    def run(self) -> None:
        """Accept and dispatch connections until :meth:`stop`."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_reader, selectors.EVENT_READ, "wake")
            while not self._stopping:
                for key, _ in selector.select(timeout=CONNECTION_TIMEOUT_SECONDS / 5):
                    if key.data == "accept":
                        self._accept(selector)
                    elif key.data != "wake":
                        selector.unregister(key.fileobj)
                        address, _ = self._waiting.pop(key.fileobj)
                        self._dispatch(key.fileobj, address)
                self._close_silent(selector)
            for conn in list(self._waiting):
                self._drop(selector, conn)

    def stop(self) -> None:
        self._stopping = True
        self._wake_writer.send(b"x")

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            conn, address = self.socket.accept()
        except OSError:
            return  # e.g. out of file descriptors for now: the next round tries again
        conn.settimeout(CONNECTION_TIMEOUT_SECONDS)
        if len(self._waiting) + self._busy >= MAX_CONNECTIONS:
            if not self._waiting:
                conn.close()  # every slot is answering a request: this one must wait its turn elsewhere
                return
            self._drop(selector, next(iter(self._waiting)))
        self._waiting[conn] = (address, time.monotonic())
        selector.register(conn, selectors.EVENT_READ, "request")

    def _close_silent(self, selector: selectors.BaseSelector) -> None:
        too_old = time.monotonic() - CONNECTION_TIMEOUT_SECONDS
        for conn, (_, since) in list(self._waiting.items()):
            if since > too_old:
                break  # the rest are younger
            self._drop(selector, conn)

    def _drop(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        selector.unregister(conn)
        del self._waiting[conn]
        self.shutdown_request(conn)

    def _dispatch(self, conn: socket.socket, address: object) -> None:
        with self._busy_lock:
            self._busy += 1
        self._workers.submit(self._answer, conn, address)

    def _answer(self, conn: socket.socket, address: object) -> None:
        try:
            self.finish_request(conn, address)
        except OSError:
            pass  # the client went away or sent too slowly (the socket's timeout): nothing to answer
        finally:
            self.shutdown_request(conn)
            with self._busy_lock:
                self._busy -= 1

    def server_close(self) -> None:
        super().server_close()
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._wake_reader.close()
        self._wake_writer.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # scrapes every 15 s would drown the log
        pass


def endpoints(registry: CollectorRegistry, alive: Callable[[], bool], ready: Callable[[], tuple[bool, str]]):
    """A WSGI app: ``/metrics``; ``/healthz`` (the loop is ticking); ``/readyz`` (warm and reading Prometheus).

    >>> app = endpoints(CollectorRegistry(), alive=lambda: True, ready=lambda: (False, "model not warm"))
    >>> app({"PATH_INFO": "/readyz"}, lambda status, headers: print(status))
    503 Service Unavailable
    [b'not ready: model not warm\\n']
    """
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
    """Serve a WSGI app on ``address:port`` from a daemon thread, with the bounds of
    :class:`_BoundedWSGIServer` (a few handler threads, capped and timed-out connections)."""

    def __init__(self, app, address: str, port: int):
        self._server = make_server(address, port, app, server_class=_BoundedWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.run, name="scorer-http", daemon=True)

    def start(self) -> "HttpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(10)
        self._server.server_close()
