"""One call that makes a Flask app export the request metrics Vigilante's rules and dashboards read.

:func:`instrument` wires prometheus-flask-exporter the way the rest of the add-on expects:

- ``<prefix>_http_request_duration_seconds`` (histogram: ``method``, the route label, ``status``),
  ``<prefix>_http_request_total`` and ``<prefix>_http_request_exceptions_total``, measured
  around the whole request (:mod:`vigilante.attach.request_metrics`), so a failure in any of the
  app's hooks is counted in both, whenever :func:`instrument` is called;
- the route label is ``url_rule`` (``/event/<int:event_id>``) or ``endpoint``
  (``events.event``), never the raw path, whose cardinality has no bound;
- a route's ``status="500"`` series exist, at 0, from its first request: ``rate()`` reads the
  increase between samples, so an error series born at 1 would hide the route's first error;
- ``/metrics`` and the health probes are not measured;
- ``<prefix>_app_info{version=...}`` says which release of the app is running;
- latency buckets come from the configuration, so ``histogram_quantile`` in the rules is
  as precise as the SLO needs;
- many apps in one process (a test suite calling the app factory once per test) share one
  set of collectors per registry, so each :func:`instrument` call on a new app works and
  every request is counted once; a second call on the same app raises
  :class:`InstrumentationError` (it would count each request twice).

Two ways to run under gunicorn are supported, chosen by the environment exactly as
``prometheus_client`` chooses it:

- one worker process with threads: the plain registry, ``/metrics`` served by the app;
- several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to a writable, empty directory
  and use the hooks in :mod:`vigilante.gunicorn_hooks`; ``/metrics`` (same port) then adds up
  every worker's samples.

>>> from flask import Flask
>>> from prometheus_client import CollectorRegistry
>>> from vigilante.config import load_config
>>> app = Flask("shop")
>>> @app.route("/item/<int:item_id>")
... def item(item_id):
...     return "ok"
>>> cfg = load_config(env={}).replace("app", route_label="endpoint")
>>> metrics = instrument(app, cfg, version="1.2.3", registry=CollectorRegistry())
>>> client = app.test_client()
>>> client.get("/item/7").status_code
200
>>> metrics.registry.get_sample_value(
...     "flask_http_request_duration_seconds_count",
...     {"method": "GET", "endpoint": "item", "status": "200"})
1.0
>>> metrics.registry.get_sample_value("flask_app_info", {"version": "1.2.3", "vigilante_version": ADDON_VERSION})
1.0
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING

from vigilante.version import __version__ as ADDON_VERSION
from vigilante.config import AppConfig, Config, load_config
from vigilante.attach.gunicorn_hooks import MULTIPROC_DIR_ENV
from vigilante.attach.request_metrics import CollectorMismatch, RequestMetrics, shared_collector

if TYPE_CHECKING:  # the exporter imports Flask; keep this module cheap to import
    from flask import Flask
    from prometheus_client import CollectorRegistry
    from prometheus_flask_exporter import PrometheusMetrics

METRICS_PATH = "/metrics"
EXTENSION_KEY = "vigilante"
"""Where an instrumented app keeps its exporter: ``app.extensions["vigilante"]``."""


class InstrumentationError(RuntimeError):
    """The app cannot be instrumented as asked (a second call on one app, no multiprocess dir)."""


def instrument(
    app: "Flask",
    config: Config | AppConfig | None = None,
    *,
    version: str | None = None,
    registry: "CollectorRegistry | None" = None,
    multiprocess: bool | None = None,
) -> "PrometheusMetrics":
    """Export request metrics from ``app`` as the configuration names them; return the exporter.

    ``config`` is the Vigilante configuration (or its ``app`` section); by default it is
    loaded from ``$VIGILANTE_CONFIG`` and ``VIGILANTE_APP__*`` variables. ``version`` is
    the app's release, shown in ``<prefix>_app_info`` (default: ``app.config["VERSION"]``,
    else ``"unknown"``).

    ``registry`` is where metrics live in single-process mode: the global
    ``prometheus_client.REGISTRY`` by default, so metrics the app already declares there are
    served on ``/metrics`` too. Business metrics go in ``metrics.registry``.

    Call it once per app; building many apps in one process (a factory per test) needs nothing
    more: apps on one registry share its request collectors, so each app's requests are
    counted, once, on the one ``/metrics`` page that registry serves (pass a fresh
    ``CollectorRegistry()`` to an app whose numbers should stay apart). They must agree on
    the route label and the buckets. A second call on the same app raises
    :class:`InstrumentationError`.

    ``multiprocess`` defaults to "``PROMETHEUS_MULTIPROC_DIR`` is set", the same test
    ``prometheus_client`` uses to decide where samples are written.
    """
    if EXTENSION_KEY in app.extensions:
        raise InstrumentationError(
            f"app {app.name!r} is already instrumented: call instrument() once per app "
            "(a second call would count each request twice)")
    app_cfg = _app_section(config)
    if multiprocess is None:
        multiprocess = bool(os.environ.get(MULTIPROC_DIR_ENV))
    version = version or str(app.config.get("VERSION") or "unknown")
    # The exporter serves /metrics (merging workers' files in multiprocess mode) and the info
    # metric; its own request hooks are off, RequestMetrics counts requests instead.
    options = dict(defaults_prefix=app_cfg.metric_prefix, export_defaults=False)
    if multiprocess:
        metrics = _multiprocess_metrics(app, options)
        # The exporter makes a registry per app here; samples go to the per-process files
        # whatever registry holds the collectors, so every app in the process shares one set:
        # two sets of one name would each overwrite the other's file entries and lose counts.
        collectors = _process_registry()
    else:
        metrics = _single_process_metrics(app, options, registry)
        collectors = metrics.registry
    excluded = excluded_path_patterns(app_cfg.excluded_paths)
    try:
        RequestMetrics(app, registry=collectors, prefix=app_cfg.metric_prefix, route_label=app_cfg.route_label,
                       buckets=app_cfg.latency_buckets, excluded_paths=excluded)
        _app_info(collectors, app_cfg.metric_prefix).labels(version=version, vigilante_version=ADDON_VERSION).set(1)
    except CollectorMismatch as exc:
        raise InstrumentationError(
            f"another app in this process already exports {exc.name} into this registry with other "
            f"{', '.join(exc.differences)}: give every app the same app: settings, or pass "
            "registry=prometheus_client.CollectorRegistry() to the one that differs") from exc
    except ValueError as exc:  # prometheus_client: "Duplicated timeseries in CollectorRegistry"
        raise InstrumentationError(
            f"this registry already holds {app_cfg.metric_prefix}_http_* or _app_info metrics that instrument() did "
            "not make: set another app.metric_prefix, or pass registry=prometheus_client.CollectorRegistry()"
        ) from exc
    app.extensions[EXTENSION_KEY] = metrics
    return metrics


def excluded_path_patterns(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Regular expressions matching exactly the configured paths.

    The exporter matches patterns with ``re.match`` (a prefix match), so ``/metrics`` alone
    would also hide ``/metricsfoo``; a trailing ``*`` asks for a prefix on purpose.

    >>> excluded_path_patterns(["/metrics", "/admin/*"])
    ['/metrics\\\\Z', '/admin/']
    """
    patterns = []
    for path in paths:
        if path.endswith("*"):
            patterns.append(re.escape(path[:-1]))
        else:
            patterns.append(re.escape(path) + r"\Z")
    return patterns


def _app_section(config: Config | AppConfig | None) -> AppConfig:
    if config is None:
        return load_config().app
    if isinstance(config, Config):
        return config.app
    return config


def _app_info(registry: "CollectorRegistry", prefix: str):
    from prometheus_client import Gauge  # on first use, as in _single_process_metrics

    name = f"{prefix}_app_info"
    labels = ("version", "vigilante_version")
    # multiprocess_mode "max": one series per release however many workers report it.
    return shared_collector(registry, name, {"labels": labels}, lambda: Gauge(
        name, "Release of the instrumented Flask app (always 1).", labels, registry=registry, multiprocess_mode="max"))


@functools.cache
def _process_registry() -> "CollectorRegistry":
    """Holds the add-on's collectors in multiprocess mode, one per process; never served itself."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def _single_process_metrics(app: "Flask", options: dict, registry: "CollectorRegistry | None") -> "PrometheusMetrics":
    # On first use: the exporter imports Flask, and prometheus_client reads the environment when imported.
    from prometheus_client import REGISTRY
    from prometheus_flask_exporter import PrometheusMetrics

    return PrometheusMetrics(app, path=METRICS_PATH, registry=REGISTRY if registry is None else registry, **options)


def _multiprocess_metrics(app: "Flask", options: dict) -> "PrometheusMetrics":
    directory = os.environ.get(MULTIPROC_DIR_ENV, "")
    if not directory or not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise InstrumentationError(
            f"multiprocess mode needs ${MULTIPROC_DIR_ENV} to name a writable directory, got {directory!r}"
        )
    # Only in multiprocess mode, once the directory is known to exist (see _single_process_metrics).
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    # "Internal": /metrics is served by the app on its own port and merges all workers'
    # files, so a pod has one port to scrape whichever mode it runs in.
    return GunicornInternalPrometheusMetrics(app, path=METRICS_PATH, **options)
