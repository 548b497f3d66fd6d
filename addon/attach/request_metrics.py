"""The request metrics every rule reads, counted for every request whatever the app's hook order.

prometheus-flask-exporter starts its timer in a ``before_request`` hook. Flask runs those hooks
in registration order and stops at the first that fails, so when an app's own earlier hook
fails (a database that cannot be opened), the request is answered, counted in
``<prefix>_http_request_total``, and missing from the duration histogram that every recording
rule counts from: an outage hid half its errors. :class:`RequestMetrics` measures around
``app.wsgi_app`` instead, outside every hook, blueprint and error handler, so both metrics see
the same requests with the status the client got.

The metric names and labels are the exporter's (``method``, the route label, ``status``), with
two differences, both so that what clients send cannot grow the number of series: ``method`` is
one of the HTTP methods or ``other``, and a request no URL rule matched (a 404 or 405 from
routing, or one that failed before routing) has the route label ``unmatched``
(:data:`UNMATCHED_ROUTE`) where the exporter writes ``None``.

Every app measured into one registry shares one set of collectors (:func:`request_meters`), so
a test suite that builds an app per test, or a process serving two apps, counts each request
once; asking for them again with another route label or other buckets is refused.

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
...                           {"method": "GET", "url_rule": "unmatched", "status": "500"})
1.0
>>> app.test_client().open("/", method="BREW").status_code
500
>>> registry.get_sample_value("shop_http_request_total", {"method": "other", "status": "500"})
1.0
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from timeit import default_timer
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from flask import Flask
    from prometheus_client import CollectorRegistry, Counter, Histogram

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"
ROUTE_LABELS = ("url_rule", "endpoint")
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no URL rule matched: one value, whatever paths clients send.
No URL rule is spelled so (rules start with ``/``); with ``route_label: endpoint``, a view
named ``unmatched`` would share it."""
ZEROED_STATUS = "500"
"""The status whose series a route gets at 0 on its first request (see :meth:`RequestMetrics._expect_errors`)."""
_EXCEPTION_KEY = "vigilante.unhandled_exception"
_EXCLUDED_KEY = "vigilante.not_measured"
_ROUTE_KEY = "vigilante.route"

# What each registry already holds, by metric name: the collector and what it was made with.
# Weak keys: a registry that is gone (a test's) takes its entries with it.
_SHARED: "weakref.WeakKeyDictionary[CollectorRegistry, dict[str, tuple[dict[str, Any], Any]]]" = \
    weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


class CollectorMismatch(ValueError):
    """A registry already holds a collector of this name, shared by :func:`shared_collector`, made otherwise."""

    def __init__(self, name: str, differences: list[str]) -> None:
        super().__init__(f"{name} is already registered with other {', '.join(differences)}")
        self.name = name
        self.differences = differences


def shared_collector(registry: "CollectorRegistry", name: str, spec: dict[str, Any], make: Callable[[], Any]) -> Any:
    """The collector ``make()`` built for ``name`` in ``registry`` on the first call; the same one after.

    ``spec`` is what the collector is made with (labels, buckets): a later call with another
    ``spec`` raises :class:`CollectorMismatch` naming the keys that differ, since the
    collector it would get counts in another shape.

    >>> from prometheus_client import CollectorRegistry, Counter
    >>> registry = CollectorRegistry()
    >>> def make():
    ...     return Counter("shop_visits", "Visits.", registry=registry)
    >>> first = shared_collector(registry, "shop_visits", {"labels": ()}, make)
    >>> first is shared_collector(registry, "shop_visits", {"labels": ()}, make)
    True
    >>> shared_collector(registry, "shop_visits", {"labels": ("page",)}, make)
    Traceback (most recent call last):
    ...
    vigilante.attach.request_metrics.CollectorMismatch: shop_visits is already registered with other labels
    """
    with _SHARED_LOCK:
        held = _SHARED.setdefault(registry, {})
        if name in held:
            made_with, collector = held[name]
            differences = [key for key in spec if made_with.get(key) != spec[key]]
            if differences:
                raise CollectorMismatch(name, differences)
            return collector
        collector = make()
        held[name] = (dict(spec), collector)
        return collector


@dataclass(frozen=True)
class RequestMeters:
    """The three request collectors one registry holds, shared by every app measured into it."""

    duration: "Histogram"
    total: "Counter"
    exceptions: "Counter"


def request_meters(registry: "CollectorRegistry", *, prefix: str, route_label: str,
                   buckets: Sequence[float]) -> RequestMeters:
    """The request collectors named from ``prefix`` in ``registry``, made on the first call.

    Raises :class:`CollectorMismatch` when they exist with another route label or other
    buckets, and prometheus_client's ``ValueError`` when the registry holds metrics of these
    names that were not made here.
    """
    # On first use: prometheus_client picks its multiprocess mode from the environment when imported.
    from prometheus_client import Counter, Histogram

    buckets = tuple(float(b) for b in buckets)
    duration = shared_collector(
        registry, f"{prefix}_http_request_duration_seconds", {"route_label": route_label, "latency_buckets": buckets},
        lambda: Histogram(f"{prefix}_http_request_duration_seconds", "Flask HTTP request duration in seconds",
                          ("method", route_label, "status"), registry=registry, buckets=buckets))
    total = shared_collector(
        registry, f"{prefix}_http_request_total", {},
        lambda: Counter(f"{prefix}_http_request_total", "Total number of HTTP requests",
                        ("method", "status"), registry=registry))
    exceptions = shared_collector(
        registry, f"{prefix}_http_request_exceptions_total", {},
        lambda: Counter(f"{prefix}_http_request_exceptions_total",
                        "Total number of HTTP requests which resulted in an exception",
                        ("method", "status"), registry=registry))
    return RequestMeters(duration, total, exceptions)


def method_label(method: str) -> str:
    """The ``method`` label: a known HTTP method as sent, anything else ``other``.

    >>> method_label("POST"), method_label("post"), method_label("X" * 2000)
    ('POST', 'other', 'other')
    """
    return method if method in KNOWN_METHODS else OTHER_METHOD


class RequestMetrics:
    """Times ``app``'s requests from a WSGI wrapper and exports the exporter's three request metrics.

    The collectors are the registry's shared ones (:func:`request_meters`): several apps
    measured into one registry add their requests to the same series.
    ``excluded_paths`` are regular expressions matched (``re.match``) against the request path;
    a matching request is not measured (``/metrics``, health probes).
    """

    def __init__(self, app: "Flask", *, registry: "CollectorRegistry", prefix: str, route_label: str,
                 buckets: Sequence[float], excluded_paths: Iterable[str] = ()) -> None:
        if route_label not in ROUTE_LABELS:
            raise ValueError(f"route_label must be one of {ROUTE_LABELS}, got {route_label!r}")
        self.route_label = route_label
        self.excluded = [re.compile(p) for p in excluded_paths]
        meters = request_meters(registry, prefix=prefix, route_label=route_label, buckets=buckets)
        self.duration, self.total, self.exceptions = meters.duration, meters.total, meters.exceptions
        self._expecting: set[tuple[str, str]] = set()  # (method, route) whose 500 series exist
        self._wrap(app)

    def _wrap(self, app: "Flask") -> None:
        # On first use, as the module's other Flask imports: importing vigilante imports no Flask.
        from flask import got_request_exception, request_started

        inner = app.wsgi_app

        def wsgi_app(environ: dict, start_response: Callable) -> Any:
            if any(p.match(environ.get("PATH_INFO", "")) for p in self.excluded):
                environ[_EXCLUDED_KEY] = True
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
            route = getattr(request, self.route_label)  # None when routing matched no rule
            request.environ[_ROUTE_KEY] = UNMATCHED_ROUTE if route is None else str(route)
            if route is not None and not request.environ.get(_EXCLUDED_KEY):
                self._expect_errors(method_label(request.method), str(route))

        def note_exception(sender: Any, exception: BaseException, **extra: Any) -> None:
            from flask import request  # see _wrap: no Flask import at module level

            request.environ[_EXCEPTION_KEY] = True

        request_started.connect(note_route, app, weak=False)
        got_request_exception.connect(note_exception, app, weak=False)
        app.wsgi_app = wsgi_app

    def _expect_errors(self, method: str, route: str) -> None:
        """Make the ``status="500"`` series of ``method`` and ``route`` at 0, once.

        ``rate()`` reads a counter's increase between samples, so a series whose first sample
        is already 1 adds nothing: without this, the first server error of every route was
        never counted (a 1 % error burst spread over several routes showed one of its four or
        five errors). Made when a route is first routed to, so only a route whose very first
        request fails before Prometheus scrapes still starts at 1. Only routes that have served
        a request get the series (not every rule of the app): they grow with the routes the
        traffic uses, as the ``200`` ones do.
        """
        key = (method, route)
        if key in self._expecting:
            return
        self._expecting.add(key)
        self.duration.labels(method=method, status=ZEROED_STATUS, **{self.route_label: route})
        self.total.labels(method=method, status=ZEROED_STATUS)

    def _observe(self, environ: dict, status: str, seconds: float) -> None:
        method = method_label(environ.get("REQUEST_METHOD", ""))
        # Not noted when the request failed before routing: no rule matched it either.
        route = environ.get(_ROUTE_KEY, UNMATCHED_ROUTE)
        self.duration.labels(method=method, status=status, **{self.route_label: route}).observe(seconds)
        self.total.labels(method=method, status=status).inc()
        if environ.get(_EXCEPTION_KEY):
            self.exceptions.labels(method=method, status=status).inc()
