"""Recording rules for the watched Flask app, built from the configuration.

Every recorded series is aggregated ``by (namespace, job)`` (plus the route label where a
dashboard panel needs it), so pods can come and go without changing what is recorded. Names
follow ``level:metric:operations``; :class:`RecordedSeries` is the one place they are
spelled, and dashboards, alerts and the scorer ask it for them:

    >>> from vigilante.config import load_config
    >>> names = RecordedSeries(load_config(env={}))
    >>> names.requests("1m")
    'namespace_job:flask_http_requests:rate1m'
    >>> names.error_ratio("5m")
    'namespace_job:flask_http_request_errors:ratio_rate5m'
    >>> names.latency(0.95, "1m")
    'namespace_job:flask_http_request_duration_seconds:p95_rate1m'
    >>> names.selector()
    '{namespace="tickets", job="ticket-app"}'

Behaviour at the edges (tested in ``rules/tests/flask_http_requests.test.yml``):

- **traffic but no 5xx yet**: prometheus-flask-exporter creates a ``status="500"`` series only
  on the first 500 (``instrument()`` creates it at 0 on a route's first request, so that
  ``rate()`` sees the first error), so the error rate falls back to ``0 * requests``: errors 0,
  error ratio 0;
- **no traffic** (targets up, counters flat): request and error rates 0, error ratio 0
  (no request failed); latency quantiles are *absent*, not NaN: there is no latency to
  speak of, and an absent sample is a gap for the scorer rather than a bogus number;
- **no series at all** (app never scraped, or gone for longer than the window): every
  recorded series is absent; the ``VigilanteAppAbsent`` / ``VigilanteAppDown`` alerts cover it;
- **counter reset** (a pod's worker restarts): ``rate()`` handles it per series before the
  sum, so the aggregate does not dip;
- **a pod removed** by the autoscaler: its series go stale and leave the sum; the rate of
  the remaining pods is unaffected.

Windows: ``1m`` for alerts and the scorer, ``5m`` for dashboards, and the burn-rate windows
of :mod:`vigilante.rules.slo`. Ratios longer than 5m are built from the recorded 5m rates with
``avg_over_time`` -- numerator and denominator averaged separately, then divided -- so a 3-day
ratio reads one series per (namespace, job) instead of every pod's raw counters. Two costs of
that choice, both small against windows of 30m and more: the long window trails the raw one by
about half the 5m window (2.5 min), and on a fresh install it covers only the history recorded
so far. That group is evaluated once a minute (slow windows need no 15 s resolution).

Groups are evaluated independently by Prometheus, so a rule reading another group's output
may see it one evaluation late; the promtool tests pin the dependency order with
``group_eval_order``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigilante.config import Config
from vigilante.escaping import label_value, prometheus_duration
from vigilante.rules import slo
from vigilante.scorer.features import DEFAULT_FEATURES, Feature

SHORT_WINDOW = "1m"
"""Window of the series alerts and the scorer read."""

DASHBOARD_WINDOW = "5m"
"""Window of the series dashboards read."""

QUANTILES = (0.5, 0.95, 0.99)
"""Latency quantiles recorded for every window."""

LEVEL = "namespace_job"


@dataclass(frozen=True)
class RecordingRule:
    """One Prometheus recording rule."""

    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleGroup:
    """A named group of rules, evaluated in order (later rules may read earlier ones)."""

    name: str
    rules: tuple[RecordingRule, ...]
    interval: str | None = None
    """Evaluation interval of the group; None: Prometheus' global evaluation_interval."""


def _quantile_tag(q: float) -> str:
    """``0.95`` -> ``p95``, ``0.5`` -> ``p50``, ``0.999`` -> ``p999``."""
    return "p" + f"{q:.10g}"[2:].ljust(2, "0")


class RecordedSeries:
    """Names of the recorded series and the label selectors of the raw ones, for one configuration."""

    def __init__(self, config: Config):
        self.config = config
        app = config.app
        self.prefix = app.metric_prefix
        self.route_label = app.route_label
        self.histogram = f"{self.prefix}_http_request_duration_seconds"

    # -- selectors ------------------------------------------------------------------

    def matchers(self) -> str:
        """The label matchers that select the app's raw series: ``namespace="...", job="..."``."""
        app = self.config.app
        return f"namespace={label_value(app.namespace)}, job={label_value(app.job)}"

    def selector(self) -> str:
        """``{namespace="...", job="..."}``: selects the app's recorded series."""
        return "{" + self.matchers() + "}"

    # -- raw metric names (explicit: prometheus_client also exports *_created) ----

    def raw_count(self) -> str:
        return f"{self.histogram}_count"

    def raw_bucket(self) -> str:
        return f"{self.histogram}_bucket"

    def raw_sum(self) -> str:
        return f"{self.histogram}_sum"

    # -- recorded names ---------------------------------------------------------------

    def _level(self, by_route: bool) -> str:
        return f"{LEVEL}_{self.route_label}" if by_route else LEVEL

    def requests(self, window: str, by_route: bool = False) -> str:
        """Requests per second (all statuses)."""
        return f"{self._level(by_route)}:{self.prefix}_http_requests:rate{window}"

    def errors(self, window: str, by_route: bool = False) -> str:
        """Server errors (status 5xx) per second."""
        return f"{self._level(by_route)}:{self.prefix}_http_request_errors:rate{window}"

    def client_errors(self, window: str) -> str:
        """Client errors (status 4xx) per second; not counted as errors."""
        return f"{LEVEL}:{self.prefix}_http_request_client_errors:rate{window}"

    def error_ratio(self, window: str, by_route: bool = False) -> str:
        """5xx responses / all responses, 0 without traffic."""
        return f"{self._level(by_route)}:{self.prefix}_http_request_errors:ratio_rate{window}"

    def bucket_rate(self, window: str, by_route: bool = False) -> str:
        """Per-``le`` rate of the latency histogram buckets (input of the quantiles and of heatmaps)."""
        return f"{self._level(by_route)}_le:{self.histogram}_bucket:rate{window}"

    def latency(self, quantile: float, window: str, by_route: bool = False) -> str:
        """Latency quantile in seconds, from the histogram; absent without traffic."""
        return f"{self._level(by_route)}:{self.histogram}:{_quantile_tag(quantile)}_rate{window}"

    def feature(self, feature: Feature, window: str) -> str:
        """The recorded series a default scorer feature reads."""
        read = getattr(self, feature.series)
        return read(feature.quantile, window) if feature.quantile is not None else read(window)

    def latency_mean(self, window: str, by_route: bool = False) -> str:
        """Mean latency in seconds (sum of durations / count); absent without traffic."""
        return f"{self._level(by_route)}:{self.histogram}:mean_rate{window}"


def _by(names: RecordedSeries, by_route: bool, le: bool = False) -> str:
    labels = ["namespace", "job"] + ([names.route_label] if by_route else [])
    return ", ".join((["le"] if le else []) + labels)


def rate_range(config: Config, window: str) -> str:
    """The range ``rate()`` reads for the series named after ``window``: ``window`` itself, divided by
    ``trial.time_scale`` in a trial (the names keep the shipped window, so every reader stays as it is).

    >>> from vigilante.config import time_scaled
    >>> rate_range(Config(), "1m"), rate_range(time_scaled(Config(), 15), "1m"), rate_range(time_scaled(Config(), 15), "5m")
    ('1m', '4s', '20s')
    """
    scale = config.trial.time_scale
    return window if scale == 1 else prometheus_duration(slo.duration_seconds(window) / scale)


def _rate_rules(names: RecordedSeries, window: str, by_route: bool = False) -> list[RecordingRule]:
    """Request, error and client-error rates, error ratio, bucket rates, quantiles and mean latency."""
    m = names.matchers()
    sel = names.selector()
    by = _by(names, by_route)
    count = names.raw_count()
    span = rate_range(names.config, window)  # the range read; the names keep the window
    all_requests = f"sum by ({by}) (rate({count}{{{m}}}[{span}]))"
    requests = names.requests(window, by_route)
    errors = names.errors(window, by_route)
    rules = [
        RecordingRule(requests, all_requests),
        RecordingRule(
            errors,
            # No 5xx series exists until the first 500: fall back to 0 while there is traffic.
            f'sum by ({by}) (rate({count}{{{m}, status=~"5.."}}[{span}]))\n'
            f"or\n0 * {requests}{sel}",
        ),
    ]
    if not by_route:
        rules.append(
            RecordingRule(
                names.client_errors(window),
                f'sum by ({by}) (rate({count}{{{m}, status=~"4.."}}[{span}]))\nor\n0 * {requests}{sel}',
            )
        )
    rules.append(RecordingRule(names.error_ratio(window, by_route), _ratio(errors + sel, requests + sel)))
    bucket_rate = names.bucket_rate(window, by_route)
    rules.append(
        RecordingRule(bucket_rate, f"sum by ({_by(names, by_route, le=True)}) (rate({names.raw_bucket()}{{{m}}}[{span}]))")
    )
    for q in QUANTILES:
        # ">= 0" drops the NaN histogram_quantile returns when every bucket rate is 0.
        rules.append(RecordingRule(names.latency(q, window, by_route), f"histogram_quantile({q}, {bucket_rate}{sel}) >= 0"))
    rules.append(
        RecordingRule(
            names.latency_mean(window, by_route),
            f"sum by ({by}) (rate({names.raw_sum()}{{{m}}}[{span}]))\n/\n({requests}{sel} > 0)",
        )
    )
    return rules


def _ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, and 0 (not NaN) where the denominator is 0."""
    return f"{numerator}\n/\n({denominator} > 0)\nor\n0 * {denominator}"


def _burn_window_rules(names: RecordedSeries) -> list[RecordingRule]:
    """Error ratios over the burn-rate windows longer than the dashboard window.

    Built from the recorded 5m rates: averaging numerator and denominator separately keeps
    the ratio of sums (never an average of ratios) at the cost of one series per window.
    """
    rules = []
    sel = names.selector()
    base = slo.duration_seconds(DASHBOARD_WINDOW)
    for window in slo.ratio_windows():
        if slo.duration_seconds(window) <= base:
            continue
        requests, errors = names.requests(window), names.errors(window)
        rules += [
            RecordingRule(requests, f"avg_over_time({names.requests(DASHBOARD_WINDOW)}{sel}[{window}])"),
            RecordingRule(errors, f"avg_over_time({names.errors(DASHBOARD_WINDOW)}{sel}[{window}])"),
            RecordingRule(names.error_ratio(window), _ratio(errors + sel, requests + sel)),
        ]
    return rules


def recording_groups(config: Config) -> list[RuleGroup]:
    """Every recording-rule group for ``config``, in evaluation order.

    The scrape interval is at most a quarter of the 1m window (the configuration's own limit).
    """
    names = RecordedSeries(config)
    prefix = config.app.metric_prefix
    return [
        RuleGroup(
            f"vigilante.{prefix}_http_requests.rules",
            tuple(_rate_rules(names, SHORT_WINDOW) + _rate_rules(names, DASHBOARD_WINDOW)),
        ),
        RuleGroup(f"vigilante.{prefix}_http_requests_by_route.rules", tuple(_rate_rules(names, DASHBOARD_WINDOW, by_route=True))),
        # Windows of 30m to 3d move slowly: once a minute is enough, and a quarter of the cost.
        RuleGroup(f"vigilante.{prefix}_http_request_errors_slo.rules", tuple(_burn_window_rules(names)), interval="1m"),
    ]


def feature_queries(config: Config) -> dict[str, str]:
    """PromQL for each default scorer feature, reading the 1m recorded series.

    The live scorer uses these unless the configuration names other queries; each returns
    one series (or none, a gap) for the configured namespace and job.

    >>> from vigilante.config import load_config
    >>> q = feature_queries(load_config(env={}))
    >>> sorted(q)
    ['client_errors_per_second', 'error_ratio', 'errors_per_second', 'latency_p50_seconds', 'latency_p95_seconds', 'latency_p99_seconds', 'requests_per_second']
    >>> q["error_ratio"]
    'namespace_job:flask_http_request_errors:ratio_rate1m{namespace="tickets", job="ticket-app"}'
    """
    names = RecordedSeries(config)
    sel = names.selector()
    return {f.name: names.feature(f, SHORT_WINDOW) + sel for f in DEFAULT_FEATURES}
