"""The one configuration object: every name and knob that differs between installations.

Rules, dashboards, alerts, manifests and the scorer all read a :class:`Config`. It is
built from the shipped defaults below, then a YAML file, then environment variables,
each layer overriding the one before::

    >>> cfg = load_config(env={"VIGILANTE_SCORER__HOLD_SECONDS": "45"})
    >>> cfg.scorer.hold_seconds
    45.0
    >>> cfg.app.job
    'ticket-app'

An environment variable is ``VIGILANTE_<SECTION>__<KEY>`` (double underscore between
section and key); its value is read as a YAML scalar or flow list, so
``VIGILANTE_APP__LATENCY_BUCKETS='[0.1, 0.5, 1]'`` works.

Every duration is in seconds, as a number or a duration string (``90s``, ``5m``, ``2h``, ``1d``)
for the keys whose name ends in ``_seconds``. Every error names where the bad value came from
(file and line, or the variable), the key, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import stat
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from vigilante.errors import VigilanteError
from vigilante.escaping import GRAFANA_UNSAFE, kubernetes_name

ENV_PREFIX = "VIGILANTE_"
CONFIG_PATH_ENV = "VIGILANTE_CONFIG"


RULE_RATE_WINDOW_SECONDS = 60
"""The recording rules' shortest rate window (``vigilante.rules.recording.SHORT_WINDOW``)."""

SCRAPES_PER_RATE_WINDOW = 4
"""Samples ``rate()`` needs in a window to be stable (Prometheus advises four): bounds the scrape interval."""


class ConfigError(VigilanteError, ValueError):
    """A configuration value is missing, unknown or of the wrong kind."""


def knob(default: Any, doc: str, check: tuple[Callable[[Any], bool], str] | None = None, *,
         most: float | None = None) -> Any:
    """Declare a configuration field with its documentation, an optional check and, for numbers, its maximum.

    ``check`` is ``(predicate, what_is_expected)``; the text completes
    "expected ..." in the error message. ``most`` is the largest value a number (or each
    number of a list) may take; every numeric knob declares one, so no value is too large
    for the code that reads it (a window of 1e50 seconds is no window).

    >>> knob(5.0, "Seconds to wait.", most=60).metadata["most"]
    60
    """
    if isinstance(default, list):
        raise TypeError("use a tuple for a list default")
    sample = default[0] if isinstance(default, tuple) and default else default
    if most is None and _is_number(sample):
        raise TypeError(f"a numeric knob needs its maximum: knob({default!r}, ..., most=...)")
    metadata = {"doc": doc, "check": check, "most": most}
    if isinstance(default, dict):
        # Each instance gets its own copy of a mapping default.
        items = dict(default)
        return field(default_factory=lambda: dict(items), metadata=metadata)
    return field(default=default, metadata=metadata)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


HOUR, DAY = 3600, 86400
"""Seconds, for the maxima of duration knobs."""


def _positive(v: float) -> bool:
    return v > 0


def _probability(v: float) -> bool:
    return 0 < v < 1


_LABEL_VALUE = (lambda v: bool(v) and "\n" not in v, "a non-empty single-line string")
_OPTIONAL_LABEL_VALUE = (lambda v: "\n" not in v, "a single-line string ('' for the default)")
# A job is also inserted as it is into Grafana queries (the `$job` variable), ServiceMonitor
# relabelings (where `$1` means a capture group) and dashboard links: what those cannot carry
# intact is refused here rather than escaped there.
_JOB_NAME = (
    lambda v: _LABEL_VALUE[0](v) and not any(c in v for c in GRAFANA_UNSAFE),
    "a non-empty single-line string without '\"', '\\' or '$' (Grafana and relabelings insert it unescaped)",
)
_METRIC_NAME = (lambda v: re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", v) is not None, "a Prometheus metric/label name")
_DNS_LABEL = (
    lambda v: re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", v) is not None,
    "a Kubernetes name (lower-case letters, digits and '-', at most 63 characters)",
)


@dataclass(frozen=True)
class AppConfig:
    """The Flask app the add-on watches, and how its metrics are labelled."""

    job: str = knob("ticket-app", "Prometheus `job` label of the app's scrape targets.", _JOB_NAME)
    namespace: str = knob("tickets", "Kubernetes namespace of the app (the `namespace` label).", _DNS_LABEL)
    route_label: str = knob(
        "url_rule",
        "How requests are grouped into routes: `url_rule` (the rule, e.g. /event/<int:id>) or "
        "`endpoint` (the view name). Never the raw path, whose cardinality is unbounded.",
        (lambda v: v in ("url_rule", "endpoint"), "'url_rule' or 'endpoint'"),
    )
    metric_prefix: str = knob(
        "flask", "Prefix of the exporter's metric names (flask_http_request_duration_seconds ...).", _METRIC_NAME
    )
    latency_buckets: tuple[float, ...] = knob(
        (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        "Upper bounds (seconds) of the request-latency histogram buckets, ascending.",
        (lambda v: len(v) > 0 and all(b > 0 for b in v) and list(v) == sorted(set(v)), "ascending positive numbers"),
        most=HOUR,
    )
    excluded_paths: tuple[str, ...] = knob(
        ("/metrics", "/healthz", "/readyz"), "Paths that are not measured (scrapes and probes)."
    )
    service: str = knob("", "The `service` routing label put on every alert; empty: `app.job`.", _OPTIONAL_LABEL_VALUE)
    team: str = knob("", "The `team` routing label put on every alert; empty: `app.namespace`.", _OPTIONAL_LABEL_VALUE)

    @property
    def service_label(self) -> str:
        """The `service` label the alerts carry: ``service``, else the job.

        >>> AppConfig(job="shop-api").service_label, AppConfig(job="shop-api", service="checkout").service_label
        ('shop-api', 'checkout')
        """
        return self.service or self.job

    @property
    def team_label(self) -> str:
        """The `team` label the alerts carry: ``team``, else the namespace.

        >>> AppConfig(namespace="payments").team_label
        'payments'
        """
        return self.team or self.namespace


@dataclass(frozen=True)
class SloConfig:
    """Service-level objectives the burn-rate and latency alerts are built from."""

    availability: float = knob(
        0.995, "Target fraction of requests that are not 5xx (0.995 = 99.5 %).", (_probability, "a number between 0 and 1"),
        most=1,
    )
    latency_p95_seconds: float = knob(0.5, "p95 latency above which the latency alert fires.", (_positive, "a positive number"),
                                      most=HOUR)


@dataclass(frozen=True)
class PrometheusConfig:
    """The Prometheus server the scorer queries and the local stack runs."""

    url: str = knob("http://127.0.0.1:9090", "Base URL of the Prometheus HTTP API.", _LABEL_VALUE)
    scrape_interval_seconds: float = knob(
        15.0, "Scrape interval of the app; the recording rules' 1m rate window needs four scrapes.",
        (_positive, "a positive number"), most=RULE_RATE_WINDOW_SECONDS / SCRAPES_PER_RATE_WINDOW)
    evaluation_interval_seconds: float = knob(15.0, "Rule evaluation interval.", (_positive, "a positive number"), most=HOUR)
    scorer_interval_seconds: float = knob(
        5.0,
        "Scrape interval of the scorer and evaluation interval of its alert group. Its series are few and cheap; "
        "reading the decision more often than it changes cuts two waits from onset to notification.",
        (_positive, "a positive number"), most=HOUR,
    )
    query_timeout_seconds: float = knob(
        10.0, "Deadline of one query, retries and slow answers included; the scorer cuts it to 80 % of a tick.",
        (_positive, "a positive number"), most=HOUR)
    max_answer_mib: float = knob(
        4.0, "Largest answer to an instant query (a tick's features: hundreds of bytes) read; a larger one is refused "
        "as if Prometheus were unavailable.", (_positive, "a positive number"), most=1024)
    max_range_answer_mib: float = knob(
        32.0, "Largest answer to a range query (a bootstrap chunk: up to 11,000 ticks, about 0.5 MiB a feature) or of "
        "the rules API read; parsed, it takes a few times its size in memory.", (_positive, "a positive number"),
        most=1024)


@dataclass(frozen=True)
class GrafanaConfig:
    """Where generated dashboards and alert rules go in Grafana."""

    folder: str = knob("Vigilante", "Grafana folder for dashboards and alert rules.", _LABEL_VALUE)
    datasource_uid: str = knob("prometheus", "uid of the Prometheus datasource Grafana queries.", _LABEL_VALUE)
    uid_prefix: str = knob("vigilante", "Prefix of every dashboard and alert-rule uid.", _DNS_LABEL)
    datasource_name: str = knob("Prometheus", "Name of the provisioned Prometheus datasource.", _LABEL_VALUE)
    alert_interval_seconds: int = knob(
        20,
        "Evaluation interval of the Grafana-managed alert rule group (Grafana needs a multiple of 10 s).",
        (lambda v: v >= 10 and v % 10 == 0, "a multiple of 10 seconds, at least 10"), most=HOUR,
    )
    dashboards_path: str = knob(
        "/var/lib/grafana/dashboards/vigilante",
        "Directory Grafana reads the generated dashboard JSON files from (the dashboard provider's path).",
        _LABEL_VALUE,
    )
    business_counters: tuple[str, ...] = knob(
        (),
        "The app's own business counters, plotted per minute in a Business row of the Flask service dashboard "
        "(empty: no such row).",
        (lambda v: all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in v), "a list of Prometheus metric names"),
    )


_VOLUME_SIZE = (lambda v: re.fullmatch(r"[1-9][0-9]*[MGT]i", v) is not None, "a size such as 20Gi")


@dataclass(frozen=True)
class KubernetesConfig:
    """Names used by the manifests."""

    namespace: str = knob("vigilante", "Namespace the add-on (scorer, Prometheus, Grafana) runs in.", _DNS_LABEL)
    release: str = knob(
        "kube-prometheus-stack",
        "The `release` label kube-prometheus-stack selects ServiceMonitors and PrometheusRules by.",
        _LABEL_VALUE,
    )
    app_pod_selector: str = knob(
        "",
        "`label=value` that the app's pods carry; Prometheus scrapes every pod that has it (never the Service). "
        "Empty: `app.kubernetes.io/name=<app.job>` (the job made a Kubernetes name).",
        (lambda v: v == "" or re.fullmatch(r"[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*", v) is not None, "'label=value' or ''"),
    )
    app_metrics_port: str = knob(
        "http", "Name of the app container's port that serves /metrics.", (lambda v: 0 < len(v) <= 15, "a port name")
    )
    # --- manifests: what `vigilante generate` writes under manifests/ ---
    app_port: int = knob(8000, "Number of the app container's port (app and /metrics); named `app_metrics_port`.",
                         (lambda v: 0 < v < 65536, "a TCP port"), most=65535)
    app_container: str = knob("app", "Name of the app's container in its Deployment (the attach-app component patches it).",
                              _DNS_LABEL)
    image_registry: str = knob(
        "ghcr.io/vigilante", "Registry and path the app and scorer images are pushed to; tags are the version.",
        (lambda v: re.fullmatch(r"[a-z0-9.:-]+(/[a-z0-9._-]+)*", v) is not None, "a registry path such as ghcr.io/me"),
    )
    prometheus_namespace: str = knob(
        "monitoring", "Namespace of kube-prometheus-stack's Prometheus (allowed through the NetworkPolicies).", _DNS_LABEL
    )
    prometheus_url: str = knob(
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        "Prometheus the scorer queries in the kube-prometheus-stack overlay (the standalone one uses its own).",
        _LABEL_VALUE,
    )
    prometheus_storage: str = knob("20Gi", "Size of the standalone Prometheus volume.", _VOLUME_SIZE)
    prometheus_retention_days: int = knob(
        8, "Days the standalone Prometheus keeps; at least the longest burn-rate window plus a day.",
        (lambda v: v >= 1, "an integer >= 1"), most=3650,
    )
    scorer_storage: str = knob("1Gi", "Size of the scorer's state volume.", _VOLUME_SIZE)
    ingress_host: str = knob(
        "", "Host the standalone Ingress answers for; empty = any host.",
        (lambda v: v == "" or re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", v) is not None, "a DNS name or ''"),
    )
    ingress_class: str = knob("nginx", "IngressClass of the standalone Ingress.", _DNS_LABEL)
    ingress_namespace: str = knob(
        "ingress-nginx",
        "Namespace of the Ingress controller (allowed through the NetworkPolicies to the app and Grafana).", _DNS_LABEL,
    )


DEFAULT_FEATURES = (
    "requests_per_second",
    "errors_per_second",
    "error_ratio",
    "latency_p50_seconds",
    "latency_p95_seconds",
)


@dataclass(frozen=True)
class ScorerConfig:
    """The anomaly scorer: which series it reads and how it decides."""

    features: tuple[str, ...] = knob(
        DEFAULT_FEATURES,
        "Names of the features the model reads (CSV columns in a backtest, queries when live).",
        (lambda v: len(v) > 0 and len(set(v)) == len(v), "a non-empty list of distinct names"),
    )
    rise_only_features: tuple[str, ...] = knob(
        ("errors_per_second", "error_ratio", "latency_p50_seconds", "latency_p95_seconds"),
        "Features for which only a rise is an incident (errors, latency): a value below its baseline counts as no "
        "deviation, so the end of an error burst is not a new anomaly. Other features alert both ways.",
    )
    job: str = knob("vigilante-scorer", "Prometheus `job` label of the scorer's scrape target.", _JOB_NAME)
    tick_seconds: float = knob(
        15.0, "Seconds between two scored ticks.",
        # Windows are counted in ticks: a day's hold in ticks of 1e-300 s is no count a deque can take.
        (lambda v: v >= 0.01, "a duration of at least 0.01 seconds"), most=HOUR,
    )
    hold_seconds: float = knob(
        60.0, "How long the score must stay above the threshold before the decision turns to 1 (rounded up to whole "
        "ticks, at least one; where that is one row less than 5 minutes long, a second row or a second feature "
        "must confirm it). As long as the 1-minute rate window: a burst that fits in one window (a few "
        "errors at night, one pod's restart) is over before it (the README's detection benchmark compares "
        "holds).", (_positive, "a positive duration in seconds"),
        most=DAY,
    )
    at_once_ratio: float = knob(
        2.0,
        "A score at least this many times the threshold, on the second tick in a row above the threshold, turns "
        "the decision to 1 without waiting the rest of hold_seconds: a clear incident is notified sooner, and a "
        "single scrape far out (one reading of 0) is not one. 0 = always wait.",
        (lambda v: v == 0 or v > 1, "0 or a number above 1"), most=1000,
    )
    listen_port: int = knob(9110, "Port of the scorer's /metrics, /healthz and /readyz.", (lambda v: 0 < v < 65536, "a TCP port"),
                            most=65535)
    state_path: str = knob(
        "", "File the model state is saved to and restored from. '' = `<scorer.job>.state.json` in the per-user "
        "state directory, `$XDG_STATE_HOME/vigilante` (else `~/.local/state/vigilante`): never the app's working "
        "directory. The images and manifests set /var/lib/vigilante/state.json.",
        (lambda v: "\n" not in v, "a single-line path, or '' for the per-user state directory"))
    # --- the model; the benchmark behind the defaults: scripts/bench_detection.py ---
    model_layout: str = knob(
        "per_feature",
        "`per_feature`: one Half-Space Trees model per configured feature (over its deviations at "
        "several time scales), scores combined by their maximum; `joint`: one model over all of them.",
        (lambda v: v in ("per_feature", "joint"), "'per_feature' or 'joint'"),
    )
    n_trees: int = knob(25, "Half-Space Trees per model.", (lambda v: 1 <= v <= 200, "an integer between 1 and 200"),
                        most=200)
    tree_height: int = knob(6, "Height of each tree (cost grows as 2**height).", (lambda v: 1 <= v <= 15, "an integer between 1 and 15"),
                            most=15)
    window_size: int = knob(
        0,
        "Rows of reference mass of each model; 0 = the number of training rows, so the model is warm "
        "(river scores 0 until a whole window is learned) and remembers the whole training set.",
        (lambda v: v >= 0, "an integer >= 0"), most=1_000_000,
    )
    seed: int = knob(42, "Random seed of the trees (same seed, same model).", (lambda v: v >= 0, "an integer >= 0"),
                     most=2**32 - 1)
    context_half_lives_seconds: tuple[float, ...] = knob(
        (0.0, 30.0),
        "Time scales of each feature's deviation from its baseline: half-lives in seconds of exponential "
        "averages of it (0 = the tick itself). Longer ones catch mild, lasting changes.",
        (lambda v: len(v) > 0 and all(h >= 0 for h in v), "a non-empty list of durations >= 0 in seconds"),
        most=30 * DAY,
    )
    context_clip: float = knob(
        4.0,
        "The longer time scales average the deviation clipped to this many noise units: they tell a lasting mild "
        "change, and a big spike does not echo in them for minutes after it ended.",
        (_positive, "a positive number"), most=1000,
    )
    baseline_half_life_seconds: float = knob(
        450.0, "Half-life (seconds) of the level of each feature's baseline (follows the daily rhythm).",
        (_positive, "a positive duration in seconds"), most=30 * DAY,
    )
    trend_half_life_seconds: float = knob(
        900.0, "Half-life (seconds) of the trend of each baseline (follows slow ramps).",
        (_positive, "a positive duration in seconds"), most=30 * DAY,
    )
    baseline_clip: float = knob(
        3.0,
        "On learned ticks, a deviation larger than this many noise units moves the baseline as if it were this "
        "size (a robust, Huber-style update): slow ramps are followed, sudden jumps barely.",
        (_positive, "a positive number"), most=1000,
    )
    limit_quantile: float = knob(
        0.9995, "Training quantile (and 1 - it) that bounds each derived feature before headroom; it stops short of the "
        "two most extreme training rows on each side (a freak row is not normal).", (_probability, "a number between 0 and 1"),
        most=1,
    )
    headroom: float = knob(
        2.0, "Room added on each side of the training range, as a fraction of its width; values beyond are clipped.",
        (lambda v: v >= 0, "a number >= 0"), most=1000,
    )
    threshold_quantile: float = knob(
        0.999, "Quantile of the training scores the threshold starts from; it stops short of the two highest.",
        (_probability, "a number between 0 and 1"), most=1,
    )
    threshold_margin: float = knob(
        0.6, "Fraction added to that quantile (0.6 = 60 % above).", (lambda v: v >= 0, "a number >= 0"), most=1000,
    )
    relearn_after_seconds: float = knob(
        7200.0,
        "Once the score was above the threshold half of this long and the values are steady, the level is "
        "accepted as the new normal (baselines re-set, learning resumes): a lasting shift alerts for at most this "
        "long (twice this if the values keep moving), and so does a real incident. 0 = never.",
        (lambda v: v >= 0, "a duration >= 0 in seconds"), most=30 * DAY,
    )


@dataclass(frozen=True)
class AlertingConfig:
    """Alert rules, their links and the example Alertmanager configuration."""

    slo_period_days: float = knob(
        30.0, "Period the availability SLO's error budget is counted over; burn-rate factors derive from it.",
        (_positive, "a positive number"), most=365,
    )
    runbook_base_url: str = knob(
        "",
        "URL where you publish the runbook (`rules/runbook.md`, shipped in the package as vigilante/rules/runbook.md); "
        "each alert's `runbook_url` is this plus `#<alert name in lower case>`. Empty: alerts carry no `runbook_url`.",
        _OPTIONAL_LABEL_VALUE,
    )
    page_receiver: str = knob(
        "", "Alertmanager receiver of critical alerts in the example configuration; empty: `<service>-page`.",
        _OPTIONAL_LABEL_VALUE,
    )
    notify_receiver: str = knob(
        "", "Alertmanager receiver of warning and info alerts in the example configuration; empty: `<service>-notify`.",
        _OPTIONAL_LABEL_VALUE,
    )
    grafana_base_url: str = knob(
        "http://localhost:3000", "Base URL of Grafana, for the `dashboard_url` panel link of each alert.", _LABEL_VALUE
    )
    webhook_url: str = knob(
        "http://127.0.0.1:5001/alerts", "Webhook the example Alertmanager configuration sends notifications to.", _LABEL_VALUE
    )
    cadvisor_selector: str = knob(
        'job="kubelet", metrics_path="/metrics/cadvisor"',
        "Label matchers of cAdvisor series (container_*); the default is kube-prometheus-stack's.",
        _LABEL_VALUE,
    )
    kube_state_metrics_selector: str = knob(
        'job="kube-state-metrics"', "Label matchers of kube-state-metrics series (kube_*).", _LABEL_VALUE
    )
    container_regex: str = knob(
        ".+", "Regex of the app's container names in its namespace (saturation alerts); '.+' means every container.",
        _LABEL_VALUE,
    )
    hpa_regex: str = knob(
        ".+", "Regex of the app's HorizontalPodAutoscaler names in its namespace; '.+' means every HPA.", _LABEL_VALUE
    )
    memory_limit_ratio: float = knob(
        0.9, "Working-set memory / memory limit above which the memory alert fires.", (_probability, "a number between 0 and 1"),
        most=1,
    )
    cpu_throttling_ratio: float = knob(
        0.25, "Share of CFS periods throttled above which the CPU throttling alert fires.",
        (_probability, "a number between 0 and 1"), most=1,
    )


@dataclass(frozen=True)
class ServiceConfig:
    """The live scorer service (`vigilante serve`): what it queries and how it warms up."""

    queries: dict[str, str] = knob(
        {},
        "PromQL per feature, overriding the defaults (the 1m recording rules for the default features). "
        "A feature the configuration names without a default query must be given here.",
        (lambda v: all(k and q for k, q in v.items()), "a mapping of feature name to a PromQL query"),
    )
    bootstrap_hours: float = knob(
        2.0, "Hours of Prometheus history the scorer trains on when it has no saved state.", (_positive, "a positive number"),
        most=31 * 24,
    )
    profile_history_seconds: float = knob(
        7 * DAY,
        "Seconds of Prometheus history the daily-profile members learn the day's shape from when the scorer "
        "warms from Prometheus (at most 7 days, what they keep; read at the tick spacing, at most 40,320 ticks). "
        "With less, they learn it live and speak from the second day; 0: only the bootstrap window.",
        (lambda v: v >= 0, "a duration in seconds, 0 or more"), most=7 * DAY,
    )
    training_csv: str = knob(
        "", "Training CSV (from `vigilante collect`) used when there is neither state nor enough history; '' for none."
    )
    save_every_seconds: float = knob(300.0, "Save the model state at most this often (seconds of scored ticks).",
                                     (_positive, "a positive duration in seconds"), most=DAY)
    phase_lock: bool = knob(
        True,
        "Tick just after Prometheus evaluates the rule group that records the features (read from its rules API "
        "at start and every 10 minutes), so a recorded change is scored within a second instead of up to a tick "
        "later; false: tick at multiples of tick_seconds.",
    )
    listen_address: str = knob(
        "127.0.0.1", "Address the scorer's HTTP server binds: loopback unless you say otherwise (the Kubernetes "
        "manifests and the image set 0.0.0.0, so Prometheus can scrape the pod).", _LABEL_VALUE)


@dataclass(frozen=True)
class TrialConfig:
    """Compressed time, to try the add-on in minutes rather than hours; every command reads it."""

    time_scale: float = knob(
        1.0,
        "Run this many times faster than the configured time (15: scrapes, rule evaluations and ticks of 1 s, a "
        "model warm after 1 minute). Every interval (scrape, rule evaluation, scorer tick and scrape), the recording "
        "rules' rate windows (their names keep the shipped 1m and 5m), the scorer's windows (half-lives, relearning, "
        "saves) and the bootstrap history are divided by it; the hold (scorer.hold_seconds), the alerts' `for:` "
        "durations and the burn-rate windows keep their wall-clock length. 1 = as configured.",
        (_positive, "a positive number (1 = as configured, 15 = fifteen times faster)"), most=60,
    )


SECTIONS: dict[str, type] = {
    "app": AppConfig,
    "slo": SloConfig,
    "prometheus": PrometheusConfig,
    "grafana": GrafanaConfig,
    "kubernetes": KubernetesConfig,
    "scorer": ScorerConfig,
    "service": ServiceConfig,
    "alerting": AlertingConfig,
    "trial": TrialConfig,
}


@dataclass(frozen=True)
class Config:
    """Everything that differs between installations. Build it with :func:`load_config`."""

    app: AppConfig = field(default_factory=AppConfig)
    slo: SloConfig = field(default_factory=SloConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    grafana: GrafanaConfig = field(default_factory=GrafanaConfig)
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    alerting: AlertingConfig = field(default_factory=AlertingConfig)
    trial: TrialConfig = field(default_factory=TrialConfig)
    source: str = field(default="<defaults>", compare=False)

    @property
    def app_pod_selector(self) -> str:
        """The ``label=value`` the app's pods carry: ``kubernetes.app_pod_selector``, else the job's name.

        >>> Config(app=AppConfig(job="Shop API")).app_pod_selector
        'app.kubernetes.io/name=shop-api-e45303b2'
        """
        return self.kubernetes.app_pod_selector or f"app.kubernetes.io/name={kubernetes_name(self.app.job)}"

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain data (tuples as lists), in section order, without the source."""
        return {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS}

    def digest(self) -> str:
        """A short stable hash of the values, for info metrics and generated headers."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def changes(self) -> dict[str, dict[str, Any]]:
        """The values that differ from the shipped defaults, by section (plain data).

        >>> Config().replace("app", job="shop-api").changes()
        {'app': {'job': 'shop-api'}}
        """
        shipped, used = Config().as_dict(), self.as_dict()
        out: dict[str, dict[str, Any]] = {}
        for section, keys in used.items():
            for key, value in keys.items():
                if shipped[section][key] != value:
                    out.setdefault(section, {})[key] = value
        return out

    def changes_digest(self) -> str:
        """A short stable hash of :meth:`changes`: a knob added with its default leaves it as it was."""
        canonical = json.dumps(self.changes(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def replace(self, section: str, **changes: Any) -> "Config":
        """A copy with some keys of one section changed (validated like a file)."""
        data = self.as_dict()
        for key, value in changes.items():
            data[section][key] = value
        return _build({s: {k: (v, "replace()") for k, v in keys.items()} for s, keys in data.items()}, self.source)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --- loading -------------------------------------------------------------------------

Located = tuple[Any, str]  # a raw value and where it came from ("file.yaml:12" or "$VAR")


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from defaults, a YAML file and the environment.

    ``path`` defaults to ``$VIGILANTE_CONFIG`` when set; with neither, only defaults and
    environment apply. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    if path is None and env.get(CONFIG_PATH_ENV):
        path = env[CONFIG_PATH_ENV]
    layers: dict[str, dict[str, Located]] = {name: {} for name in SECTIONS}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        for section, keys in _read_file(Path(path)).items():
            layers[section].update(keys)
    for section, keys in _read_env(env).items():
        layers[section].update(keys)
    config = _build(layers, source)
    check_across(config)
    scale = config.trial.time_scale
    return config if scale == 1 else time_scaled(config.replace("trial", time_scale=1.0), scale)


# --- compressed time ---------------------------------------------------------------------

TIME_SCALED = {
    "prometheus": ("scrape_interval_seconds", "evaluation_interval_seconds", "scorer_interval_seconds"),
    "scorer": ("tick_seconds", "relearn_after_seconds", "baseline_half_life_seconds", "trend_half_life_seconds",
               "context_half_lives_seconds"),
    "service": ("bootstrap_hours", "save_every_seconds"),
}
"""The durations ``trial.time_scale`` divides; the recording rules divide their rate windows too."""


def time_scaled(config: Config, factor: float, *, scale_hold: bool = False) -> Config:
    """``config`` running ``factor`` times faster: the :data:`TIME_SCALED` durations divided by it and
    ``trial.time_scale`` multiplied by it. The hold keeps its wall-clock length unless ``scale_hold``.

    :func:`load_config` applies the configured ``trial.time_scale`` with it, so every command
    (``check``, ``collect``, ``train``, ``serve``, ``generate``, ``prometheus-config``) reads
    the same compressed settings, and a model trained under them loads under them.

    >>> cfg = time_scaled(Config(), 15)
    >>> cfg.scorer.tick_seconds, cfg.prometheus.scrape_interval_seconds, cfg.scorer.hold_seconds, cfg.trial.time_scale
    (1.0, 1.0, 60.0, 15.0)
    >>> round(cfg.service.bootstrap_hours * 3600), time_scaled(Config(), 15, scale_hold=True).scorer.hold_seconds
    (480, 4.0)
    """
    if factor == 1:
        return config
    data = config.as_dict()
    changes: dict[str, dict[str, Any]] = {"trial": {"time_scale": config.trial.time_scale * factor}}
    for section, keys in TIME_SCALED.items():
        for key in keys:
            value = data[section][key]
            changes.setdefault(section, {})[key] = ([v / factor for v in value] if isinstance(value, list)
                                                    else value / factor)
    if scale_hold:
        changes["scorer"]["hold_seconds"] = config.scorer.hold_seconds / factor
    try:
        for section, keys in changes.items():
            config = config.replace(section, **keys)
    except ConfigError as exc:
        raise ConfigError(f"trial.time_scale {changes['trial']['time_scale']:g}: {str(exc).removeprefix('replace(): ')}"
                          ) from None
    return config


def spoken_duration(seconds: float) -> str:
    """A duration as a person reads it: seconds, minutes, hours or days, three figures at most.

    >>> spoken_duration(36), spoken_duration(60), spoken_duration(990), spoken_duration(7200), spoken_duration(0.25)
    ('36 s', '1 min', '16.5 min', '2 h', '0.25 s')
    """
    for unit, size, below in (("s", 1, 60), ("min", 60, 2 * HOUR), ("h", HOUR, 2 * DAY)):
        if seconds < below:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds / DAY:.3g} d"


def time_scale_line(config: Config) -> str | None:
    """What ``trial.time_scale`` changed, in one line; None when time runs as configured.

    >>> print(time_scale_line(time_scaled(Config(), 15)))
    trial.time_scale 15: scrapes, rule evaluations and ticks every 1 s, rate windows 15x shorter, scorer windows alike (baseline half-life 30 s, bootstrap 8 min); as shipped: the hold (60 s), alert for: durations and the burn-rate windows
    """
    scale = config.trial.time_scale
    if scale == 1:
        return None
    p, s = config.prometheus, config.scorer
    intervals = sorted({p.scrape_interval_seconds, p.evaluation_interval_seconds, s.tick_seconds})
    every = " / ".join(spoken_duration(i) for i in intervals)
    return (f"trial.time_scale {scale:g}: scrapes, rule evaluations and ticks every {every}, rate windows {scale:g}x "
            f"shorter, scorer windows alike (baseline half-life {s.baseline_half_life_seconds:g} s, "
            f"bootstrap {spoken_duration(config.service.bootstrap_hours * HOUR)}); as shipped: the hold "
            f"({s.hold_seconds:g} s), alert for: durations and the burn-rate windows")


# --- checks across keys ----------------------------------------------------------------

LONGEST_RULE_WINDOW_SECONDS = 3 * 86400
"""The longest burn-rate window an error ratio is recorded for (``vigilante.rules.slo.ratio_windows``)."""


def check_across(config: Config) -> None:
    """Raise :class:`ConfigError` for values that are valid one by one but not with what the rules read.

    :func:`load_config` runs it, so ``vigilante config`` refuses what ``vigilante generate``
    could not render; the renderers run it again for configurations built with
    :meth:`Config.replace`.

    >>> check_across(Config().replace("kubernetes", prometheus_retention_days=3))
    Traceback (most recent call last):
    ...
    vigilante.config.ConfigError: kubernetes.prometheus_retention_days: expected at least 4 (the longest burn-rate window plus a day), got 3
    """
    needed = math.ceil(LONGEST_RULE_WINDOW_SECONDS / 86400) + 1
    days = config.kubernetes.prometheus_retention_days
    if days < needed:
        raise ConfigError(f"kubernetes.prometheus_retention_days: expected at least {needed} "
                          f"(the longest burn-rate window plus a day), got {days}")


def _read_file(path: Path) -> dict[str, dict[str, Located]]:
    data = _read_bounded(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None
    loader = _BoundedLoader(text, lambda mark: f"{path}:{mark.line + 1}")
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    finally:
        loader.dispose()  # the parser's state: the composed nodes stay readable
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:{root.start_mark.line + 1}: expected a mapping of sections ({', '.join(SECTIONS)})")
    _refuse_duplicate_keys(root, path)
    out: dict[str, dict[str, Located]] = {}
    for key_node, value_node in root.value:
        section = key_node.value
        where = f"{path}:{key_node.start_mark.line + 1}"
        if section not in SECTIONS:
            raise ConfigError(f"{where}: unknown section '{section}'{_suggest(section, SECTIONS)}")
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
            continue
        if not isinstance(value_node, yaml.MappingNode):
            raise ConfigError(f"{where}: section '{section}' must be a mapping of keys")
        keys = out.setdefault(section, {})
        for k_node, v_node in value_node.value:
            where = f"{path}:{k_node.start_mark.line + 1}"
            keys[k_node.value] = (loader.value_of(v_node, f"{where}: {section}.{k_node.value}"), where)
    return out


# --- reading YAML within bounds ----------------------------------------------------------
# A configuration is a few kilobytes of flat keys. These limits are far above any real one and
# far below what costs a second: PyYAML's composer recurses once per nesting level, and an
# alias stands for the whole value it names, so 342 bytes of aliases can stand for 9**9 values.

MAX_FILE_BYTES = 1024 * 1024
"""Largest configuration file read; a larger one is refused unread."""
MAX_NESTING = 20
"""Deepest nesting of lists and mappings (a configuration needs four)."""
MAX_VALUES = 10_000
"""Most values (scalars, lists, mappings) in a file or variable, each alias counting as all it names."""
MAX_DIGITS = 40
"""Longest integer literal read (the largest maximum, a 32-bit seed, has 10 digits)."""


def _read_bounded(path: Path) -> bytes:
    """The file's bytes: a regular file of at most :data:`MAX_FILE_BYTES`, opened without blocking."""
    try:
        # stat first: opening a FIFO waits for a writer, and a device may act on open.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ConfigError(f"{path}: not a regular file; give the path of a YAML file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the stat
                raise ConfigError(f"{path}: not a regular file; give the path of a YAML file")
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; a configuration is a few kilobytes")
    return data


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses, while composing, nesting deeper than :data:`MAX_NESTING`
    and more than :data:`MAX_VALUES` values with aliases expanded, so nothing later (the
    duplicate-key walk, construction, the checks) meets an exponential or recursive input.

    ``locate`` turns a YAML mark into the error prefix: ``file:line``, or the variable's name.

    >>> loader = _BoundedLoader("[&a [1, 2], *a, *a]", lambda mark: "<doc>")
    >>> loader.value_of(loader.get_single_node(), "<doc>")
    [[1, 2], [1, 2], [1, 2]]
    >>> loader.values
    10
    """

    def __init__(self, text: str, locate: Callable[[yaml.Mark], str]):
        super().__init__(text)
        self.locate = locate
        self.values = 0  # values composed so far, aliases expanded
        self._depth = 0
        self._anchored: dict[int, int] = {}  # id of a complete anchored node -> values it stands for

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._anchored:  # its anchor is still open: the alias is inside it
                raise ConfigError(f"{self.locate(event.start_mark)}: alias '*{event.anchor}' inside the value it "
                                  "names; a value cannot contain itself")
            self._count(self._anchored[id(node)], event)
            return node
        if self._depth >= MAX_NESTING:
            raise ConfigError(f"{self.locate(event.start_mark)}: nested deeper than {MAX_NESTING} levels; "
                              "a configuration needs a few")
        before = self.values
        self._count(1, event)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if getattr(event, "anchor", None) is not None:
            self._anchored[id(node)] = self.values - before
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_DIGITS:
            # Python would refuse it past 4300 digits, advising a setting the user cannot change.
            raise ConfigError(f"{self.locate(event.start_mark)}: a number of {len(node.value)} characters; "
                              f"no setting takes more than {MAX_DIGITS}")
        return node

    def _count(self, values: int, event: yaml.Event) -> None:
        self.values += values
        if self.values > MAX_VALUES:
            raise ConfigError(f"{self.locate(event.start_mark)}: more than {MAX_VALUES} values (aliases counted "
                              "as all they stand for); a configuration needs far fewer")

    def value_of(self, node: yaml.Node, what: str) -> Any:
        """The Python value of ``node`` (a node this loader composed): shared, never copied, per alias."""
        try:
            return self.construct_document(node)
        except ValueError as exc:  # a date such as 2024-02-30 is YAML, but no date
            raise ConfigError(f"{what}: cannot read the value: {str(exc)[:120]}") from None


def _load_text(text: str, what: str) -> Any:
    """``text`` read as one YAML value within the same limits as a file; ``what`` prefixes errors."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ConfigError(f"{what}: larger than {MAX_FILE_BYTES // 1024} KiB")
    loader = _BoundedLoader(text, lambda mark: what)
    try:
        node = loader.get_single_node()
        return None if node is None else loader.value_of(node, what)
    finally:
        loader.dispose()


def _shown(value: Any, width: int = 80) -> str:
    """``repr(value)``, cut to ``width`` characters: an error names a value, it does not print a megabyte.

    >>> _shown("x" * 100, 12)
    "'xxxxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _refuse_duplicate_keys(node: yaml.Node, path: Path, parents: tuple[str, ...] = ()) -> None:
    """YAML lets a later key silently replace an earlier one; a configuration must not."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path, parents)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in seen:
            name = ".".join((*parents, key))
            raise ConfigError(f"{path}:{line}: duplicate key '{name}' (first at line {seen[key]}); keep one")
        seen[key] = line
        _refuse_duplicate_keys(value_node, path, (*parents, key))


def _read_env(env: Mapping[str, str]) -> dict[str, dict[str, Located]]:
    out: dict[str, dict[str, Located]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_ENV or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].partition("__")
        section, key = section.lower(), key.lower()
        if section not in SECTIONS:
            raise ConfigError(f"${name}: unknown section '{section}'{_suggest(section, SECTIONS)}")
        out.setdefault(section, {})[key] = (_EnvText(raw), f"${name}")
    return out


RENAMED = {
    ("scorer", "hold_ticks"): "hold_seconds",
    ("scorer", "relearn_after_ticks"): "relearn_after_seconds",
    ("scorer", "baseline_half_life_ticks"): "baseline_half_life_seconds",
    ("scorer", "trend_half_life_ticks"): "trend_half_life_seconds",
    ("scorer", "context_half_lives_ticks"): "context_half_lives_seconds",
    ("service", "save_every_ticks"): "save_every_seconds",
}
"""Keys that counted ticks, and the keys in seconds that replaced them."""


def _build(layers: Mapping[str, Mapping[str, Located]], source: str) -> Config:
    sections = {}
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, (raw, where) in layers.get(name, {}).items():
            if (name, key) in RENAMED:
                new = RENAMED[(name, key)]
                raise ConfigError(f"{where}: '{name}.{key}' counted ticks; it is now '{name}.{new}', in seconds "
                                  f"(ticks x scorer.tick_seconds; 2 ticks of 15 s = 30)")
            if key not in fields:
                raise ConfigError(f"{where}: unknown key '{name}.{key}'{_suggest(key, fields)}")
            f = fields[key]
            if key.endswith("_seconds"):
                raw = _duration(raw)
            value = _coerce(raw, hints[key], f"{where}: {name}.{key}")
            check, most = f.metadata.get("check"), f.metadata.get("most")
            if check and not check[0](value):
                raise ConfigError(f"{where}: {name}.{key}: expected {check[1]}, got {_shown(raw)}")
            if most is not None and _largest(value) > most:
                expected = f"{check[1]}, " if check else ""
                raise ConfigError(f"{where}: {name}.{key}: expected {expected}at most {_amount(most, key)}, "
                                  f"got {_shown(raw)}")
            values[key] = value
        sections[name] = cls(**values)
    return Config(**sections, source=source)


def _largest(value: int | float | tuple[float, ...]) -> float:
    return max(value, default=0) if isinstance(value, tuple) else value


def _amount(most: float, key: str) -> str:
    """A maximum as the user writes it, with the days or hours a number of seconds is.

    >>> _amount(30 * DAY, "relearn_after_seconds"), _amount(HOUR, "tick_seconds"), _amount(1000, "headroom")
    ('2592000 (30d)', '3600 (1h)', '1000')
    """
    text = str(most) if isinstance(most, int) else f"{most:g}"
    if key.endswith("_seconds"):
        for unit, seconds in (("d", DAY), ("h", HOUR), ("m", 60)):
            if most >= seconds and most % seconds == 0:
                return f"{text} ({most // seconds:g}{unit})"
    return text


class _EnvText(str):
    """An environment variable's text: a string for string knobs, else read as YAML."""


def _coerce(raw: Any, hint: Any, what: str) -> Any:
    if isinstance(raw, _EnvText):
        if hint is str:
            return str(raw)  # VIGILANTE_APP__JOB=123 names the job "123"
        try:
            raw = _load_text(raw, what) if raw.strip() else ""
        except yaml.YAMLError:
            raw = str(raw)
    origin = typing.get_origin(hint)
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(raw, dict):
            raise ConfigError(f"{what}: expected a mapping, got {_shown(raw)}")
        return {_coerce(k, key_type, what): _coerce(v, value_type, what) for k, v in raw.items()}
    if origin is tuple:
        item_type = typing.get_args(hint)[0]
        if not isinstance(raw, (list, tuple)):
            raise ConfigError(f"{what}: expected a list of {_type_name(item_type)}, got {_shown(raw)}")
        return tuple(_coerce(item, item_type, what) for item in raw)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
    elif hint is int:
        number = _number(raw)
        if number is not None and number == int(number):  # 1e3 is 1000
            return int(number)
    elif hint is float:
        number = _number(raw)
        if number is not None:
            return number
    elif hint is str:
        if isinstance(raw, str):
            return raw
    else:  # pragma: no cover - a programming error in a section class
        raise TypeError(f"unsupported config type {hint}")
    raise ConfigError(f"{what}: expected {_type_name(hint)}, got {_shown(raw)}")


# YAML 1.2's number notations; PyYAML reads YAML 1.1, where `1e3` and `1e-300` are strings.
_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?")


_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(raw: Any) -> Any:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` as seconds (lists too); anything else as it is, for :func:`_coerce`.

    >>> _duration("5m"), _duration(["0s", "30s"]), _duration(45), _duration("soon")
    (300.0, [0.0, 30.0], 45, 'soon')
    """
    if isinstance(raw, list):
        return [_duration(item) for item in raw]
    if isinstance(raw, str):
        match = _DURATION.fullmatch(raw)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return raw


def _number(raw: Any) -> float | None:
    """``raw`` as a finite number (a YAML number, or a string in any YAML number notation); else None.

    >>> _number(15), _number("1e3"), _number("1e-300"), _number("2.5E+1"), _number(float("inf")), _number(True)
    (15.0, 1000.0, 1e-300, 25.0, None, None)
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        raw = float(raw.strip().replace("_", ""))
    if isinstance(raw, (int, float)) and math.isfinite(raw):
        return float(raw)
    return None


def _type_name(hint: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(hint, str(hint))


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    known = ", ".join(choices)
    return f"; did you mean '{close[0]}'?" if close else f"; known: {known}"


def describe() -> str:
    """Every knob with its default and documentation, as commented YAML."""
    lines = ["# Vigilante configuration: every key, its default and what it does.", ""]
    for name, cls in SECTIONS.items():
        lines.append(f"{name}:  # {cls.__doc__.strip().splitlines()[0]}")
        for f in dataclasses.fields(cls):
            default = _plain(f.default if f.default is not dataclasses.MISSING else f.default_factory())
            rendered = json.dumps(default) if not isinstance(default, str) else yaml.safe_dump(default).splitlines()[0]
            most = f.metadata["most"]
            lines.append(f"  # {f.metadata['doc']}" + (f" At most {_amount(most, f.name)}." if most is not None else ""))
            lines.append(f"  {f.name}: {rendered}")
        lines.append("")
    return "\n".join(lines)
