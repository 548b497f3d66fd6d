"""The request metrics every rule reads, counted for every request whatever the app's hook order.

prometheus-flask-exporter starts its timer in a ``before_request`` hook. Flask runs those hooks
in registration order and stops at the first that fails, so when an app's own earlier hook
fails (a database that cannot be opened), the request is answered, counted in
``<prefix>_http_request_total``, and missing from the duration histogram that every recording
rule counts from: an outage hid half its errors. :class:`RequestMetrics` measures around
``app.wsgi_app`` instead, outside every hook, blueprint and error handler, so both metrics see
the same requests with the status the client got.

The metric names and labels are the exporter's (``method``, the route label, ``status``), with
one difference: ``method`` is one of the HTTP methods or ``other``, since a client can send any
string there and each would be a new series.

>>> from flask import Flask
>>> from prometheus_client import CollectorRegistry
>>> app = Flask("shop")
>>> @app.before_request
... def open_database():
...     raise ConnectionError("database is down")
>>> registry = CollectorRegistry()
>>> _ = RequestMetrics(app, registry=registry, prefix="shop", route_label="url_rule",
...                    buckets=(0.1, 1.0), excluded_paths=[r"/metrics\\Z"])
>>> app.test_client().get("/").status_code
500
>>> registry.get_sample_value("shop_http_request_duration_seconds_count",
...                           {"method": "GET", "url_rule": "None", "status": "500"})
1.0
>>> app.test_client().open("/", method="BREW").status_code
500
>>> registry.get_sample_value("shop_http_request_total", {"method": "other", "status": "500"})
1.0
"""

from __future__ import annotations

import re
from timeit import default_timer
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from flask import Flask
    from prometheus_client import CollectorRegistry

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"
ROUTE_LABELS = ("url_rule", "endpoint")
_EXCEPTION_KEY = "vigilante.unhandled_exception"
_ROUTE_KEY = "vigilante.route"


def method_label(method: str) -> str:
    """The ``method`` label: a known HTTP method as sent, anything else ``other``.

    >>> method_label("POST"), method_label("post"), method_label("X" * 2000)
    ('POST', 'other', 'other')
    """
    return method if method in KNOWN_METHODS else OTHER_METHOD


class RequestMetrics:
    """Times ``app``'s requests from a WSGI wrapper and exports the exporter's three request metrics.

    ``excluded_paths`` are regular expressions matched (``re.match``) against the request path;
    a matching request is not measured (``/metrics``, health probes).
    """

    def __init__(self, app: "Flask", *, registry: "CollectorRegistry", prefix: str, route_label: str,
                 buckets: Sequence[float], excluded_paths: Iterable[str] = ()) -> None:
        # On first use: prometheus_client picks its multiprocess mode from the environment when imported.
        from prometheus_client import Counter, Histogram

        if route_label not in ROUTE_LABELS:
            raise ValueError(f"route_label must be one of {ROUTE_LABELS}, got {route_label!r}")
        self.route_label = route_label
        self.excluded = [re.compile(p) for p in excluded_paths]
        self.duration = Histogram(f"{prefix}_http_request_duration_seconds", "Flask HTTP request duration in seconds",
                                  ("method", route_label, "status"), registry=registry, buckets=tuple(buckets))
        self.total = Counter(f"{prefix}_http_request_total", "Total number of HTTP requests",
                             ("method", "status"), registry=registry)
        self.exceptions = Counter(f"{prefix}_http_request_exceptions_total",
                                  "Total number of HTTP requests which resulted in an exception",
                                  ("method", "status"), registry=registry)
        self._wrap(app)

    def _wrap(self, app: "Flask") -> None:
        # On first use, as the module's other Flask imports: importing vigilante imports no Flask.
        from flask import got_request_exception, request_started

        inner = app.wsgi_app

        def wsgi_app(environ: dict, start_response: Callable) -> Any:
            if any(p.match(environ.get("PATH_INFO", "")) for p in self.excluded):
                return inner(environ, start_response)
            started = default_timer()
            status = {"code": "500"}  # what the server sends when the app raises through here

            def recording_start_response(status_line: str, headers: list, exc_info: Any = None) -> Callable:
                status["code"] = status_line.split(" ", 1)[0]
                return start_response(status_line, headers, exc_info)

            try:
                return inner(environ, recording_start_response)
            except BaseException:
                environ[_EXCEPTION_KEY] = True
                raise
            finally:
                self._observe(environ, status["code"], max(default_timer() - started, 0.0))

        def note_route(sender: Any, **extra: Any) -> None:
            from flask import request  # see _wrap: no Flask import at module level

            # Sent after routing and before every before_request hook: the matched rule is
            # known here whatever fails later (Flask clears the request object at the end).
            request.environ[_ROUTE_KEY] = str(getattr(request, self.route_label))

        def note_exception(sender: Any, exception: BaseException, **extra: Any) -> None:
            from flask import request  # see _wrap: no Flask import at module level

            request.environ[_EXCEPTION_KEY] = True

        request_started.connect(note_route, app, weak=False)
        got_request_exception.connect(note_exception, app, weak=False)
        app.wsgi_app = wsgi_app

    def _observe(self, environ: dict, status: str, seconds: float) -> None:
        method = method_label(environ.get("REQUEST_METHOD", ""))
        # "None" when no rule matched (404) or the request failed before routing, as the
        # exporter labels it.
        route = environ.get(_ROUTE_KEY, "None")
        self.duration.labels(method=method, status=status, **{self.route_label: route}).observe(seconds)
        self.total.labels(method=method, status=status).inc()
        if environ.get(_EXCEPTION_KEY):
            self.exceptions.labels(method=method, status=status).inc()
