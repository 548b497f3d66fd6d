"""Every alert, defined once: rendered to Prometheus alerting rules here, and to Grafana alert files.

Each :class:`Alert` carries its expression, hold time, severity, a static summary, a
templated description, the runbook anchor and the dashboard panel it links to. Every
expression is a *filter*: it returns series only while the condition holds, so the same
expression serves Prometheus (fires while non-empty for ``for_``) and Grafana.

    >>> from vigilante.config import load_config
    >>> by_name = {a.name: a for a in alerts(load_config(env={}))}
    >>> a = by_name["VigilanteAnomalyDetected"]
    >>> a.expr
    'max_over_time(vigilante_anomaly_decision{job="vigilante-scorer"}[20s]) == 1'
    >>> a.severity, a.for_
    ('warning', '0s')
    >>> a.runbook_url(load_config(env={"VIGILANTE_ALERTING__RUNBOOK_BASE_URL": "https://wiki.example/runbook.md"}))
    'https://wiki.example/runbook.md#vigilanteanomalydetected'
    >>> a.runbook_url(load_config(env={}))  # no runbook configured: no link
    ''

Routing labels (``service``, ``team``, ``namespace``) come from the configuration and are put
on every alert; the example Alertmanager configuration groups and inhibits by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigilante.attach import metric_names
from vigilante.config import Config
from vigilante.escaping import label_value, template_text
from vigilante.rules import slo
from vigilante.rules.panels import PANELS, Panel
from vigilante.rules.recording import DASHBOARD_WINDOW, RecordedSeries

SEVERITIES = ("critical", "warning", "info")
PREFIX = "Vigilante"


@dataclass(frozen=True)
class Alert:
    """One alert definition."""

    name: str
    group: str
    """Rule group (``vigilante.<group>.alerts``): alerts about one thing evaluate together."""
    expr: str
    for_: str
    """Hold time: the condition must hold this long before the alert fires (``0s``: at once)."""
    severity: str
    summary: str
    """One static sentence."""
    description: str
    """Go template: may use ``$labels`` and ``$value``."""
    panel: str
    """Key of :data:`vigilante.rules.panels.PANELS` showing what the alert fires on."""
    labels: dict[str, str] = field(default_factory=dict)
    """Static labels besides severity and the routing labels."""

    def __post_init__(self) -> None:
        if not self.name.startswith(PREFIX) or not self.name.isidentifier():
            raise ValueError(f"alert name {self.name!r} must be CamelCase and start with {PREFIX}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.name}: severity must be one of {SEVERITIES}")
        if self.panel not in PANELS:
            raise ValueError(f"{self.name}: unknown panel {self.panel!r}")

    @property
    def runbook_anchor(self) -> str:
        """The runbook section's anchor: GitHub's slug of the ``## <name>`` heading."""
        return self.name.lower()

    def runbook_url(self, config: Config) -> str:
        """The link to this alert's runbook section; empty when no runbook is configured."""
        base = config.alerting.runbook_base_url
        return f"{base}#{self.runbook_anchor}" if base else ""

    def dashboard_panel(self) -> Panel:
        return PANELS[self.panel]

    def all_labels(self, config: Config) -> dict[str, str]:
        """Severity, the routing labels from the configuration, then the alert's own labels."""
        return {
            "severity": self.severity,
            # Prometheus and Grafana expand templates in alert labels too.
            "service": template_text(config.app.service_label),
            "team": template_text(config.app.team_label),
            "namespace": template_text(config.app.namespace),
            **self.labels,
        }

    def annotations(self, config: Config) -> dict[str, str]:
        """Summary, description, the runbook link (when a runbook is configured) and the dashboard link."""
        runbook = self.runbook_url(config)
        return {
            "summary": self.summary,
            "description": self.description,
            **({"runbook_url": template_text(runbook)} if runbook else {}),
            "dashboard_url": template_text(self.dashboard_panel().url(config)),
        }


def decision_window(config: Config) -> float:
    """Seconds of the decision gauge the anomaly alert looks at: the longest of the scorer's
    scrape interval and the two evaluation intervals (its Prometheus group's, Grafana's).

    >>> decision_window(Config())
    20.0
    """
    return float(max(config.prometheus.scorer_interval_seconds, config.grafana.alert_interval_seconds))


def group_interval(config: Config, group: str) -> float | None:
    """Evaluation interval of an alert group; None: Prometheus' global ``evaluation_interval``.

    The scorer's group reads only the scorer's few series: it evaluates as often as the
    scorer is scraped, so a decision scraped a moment ago fires now, not up to 15 s later.

    >>> group_interval(Config(), "scorer"), group_interval(Config(), "slo")
    (5.0, None)
    """
    return config.prometheus.scorer_interval_seconds if group == "scorer" else None


def _num(x: float) -> str:
    """A float as PromQL and humans like it: 14.4, 0.005, 6 (no 0.0050000000000000044)."""
    return f"{round(x, 10):g}"


def _at_once_text(config: Config) -> str:
    """How the scorer decides before the hold is over, if it does (``scorer.at_once_ratio``)."""
    ratio = config.scorer.at_once_ratio
    return f" (or stayed {ratio:g} times above it for two ticks in a row)" if ratio else ""


def _slo_alerts(config: Config, names: RecordedSeries) -> list[Alert]:
    sel = names.selector()
    budget = 1 - config.slo.availability
    period = config.alerting.slo_period_days
    slo_text = f"{_num(config.slo.availability * 100)}% availability SLO"

    def condition(pairs: list[slo.BurnRateWindow]) -> str:
        parts = []
        for w in pairs:
            threshold = f"({_num(w.factor(period))} * {_num(budget)})"
            parts.append(
                f"(\n  {names.error_ratio(w.long)}{sel} > {threshold}\nand\n  {names.error_ratio(w.short)}{sel} > {threshold}\n)"
            )
        return "\nor\n".join(parts)

    def windows(pairs: list[slo.BurnRateWindow]) -> str:
        return " or ".join(f"{_num(w.factor(period))}x over {w.long} and {w.short}" for w in pairs)

    scale = config.trial.time_scale
    # A trial compresses the short rate windows only: a budget spent over hours is not spent in minutes.
    unscaled = ("" if scale == 1 else f" (trial.time_scale {_num(scale)}: the burn-rate windows are not scaled; "
                "this alert fires and clears at the shipped pace)")
    fast = [w for w in slo.BURN_RATE_WINDOWS if w.page]
    slow = [w for w in slo.BURN_RATE_WINDOWS if not w.page]
    p95 = names.latency(0.95, DASHBOARD_WINDOW) + sel
    return [
        Alert(
            name="VigilanteErrorBudgetBurnFast",
            group="slo",
            expr=condition(fast),
            for_="2m",
            severity="critical",
            summary="The app is burning its error budget fast: the SLO will be missed within days.",
            description=(
                "{{ $value | humanizePercentage }} of requests to {{ $labels.job }} in {{ $labels.namespace }} "
                f"fail with 5xx; the {slo_text} allows {_num(budget * 100)}% over {_num(period)} days, "
                f"and the error ratio is above the paging burn rate ({windows(fast)}){unscaled}."
            ),
            panel="error_budget",
        ),
        Alert(
            name="VigilanteErrorBudgetBurnSlow",
            group="slo",
            expr=condition(slow),
            for_="15m",
            severity="warning",
            summary="The app is burning its error budget faster than the SLO allows.",
            description=(
                "{{ $value | humanizePercentage }} of requests to {{ $labels.job }} in {{ $labels.namespace }} "
                f"fail with 5xx; the {slo_text} allows {_num(budget * 100)}% over {_num(period)} days, "
                f"and the error ratio is above the slow burn rate ({windows(slow)}){unscaled}."
            ),
            panel="error_budget",
        ),
        Alert(
            name="VigilanteHighLatencyP95",
            group="slo",
            expr=f"{p95} > {_num(config.slo.latency_p95_seconds)}",
            for_="5m",
            severity="warning",
            summary="The app's 95th-percentile latency is above its objective.",
            description=(
                "p95 latency of {{ $labels.job }} in {{ $labels.namespace }} is {{ $value | humanizeDuration }} "
                f"over the last {DASHBOARD_WINDOW}, above the {_num(config.slo.latency_p95_seconds)}s objective."
            ),
            panel="latency",
        ),
    ]


def _availability_alerts(config: Config, names: RecordedSeries) -> list[Alert]:
    up = f"up{{{names.matchers()}}}"
    return [
        Alert(
            name="VigilanteAppDown",
            group="availability",
            expr=f"sum by (namespace, job) ({up}) == 0",
            for_="1m",
            severity="critical",
            summary="Every scrape target of the app is down.",
            description="No target of job {{ $labels.job }} in namespace {{ $labels.namespace }} has answered a scrape for 1 minute.",
            panel="targets",
        ),
        Alert(
            name="VigilanteAppAbsent",
            group="availability",
            expr=f"absent({up})",
            for_="2m",
            severity="critical",
            summary="Prometheus has no scrape target for the app.",
            description=(
                "No target of job {{ $labels.job }} in namespace {{ $labels.namespace }} has been discovered for 2 minutes: "
                "the app is not deployed, or service discovery or its labels changed."
            ),
            panel="targets",
        ),
        Alert(
            name="VigilanteAppTargetDown",
            group="availability",
            expr=f"{up} == 0",
            for_="5m",
            severity="warning",
            summary="A scrape target of the app is down.",
            description="Target {{ $labels.instance }} of job {{ $labels.job }} has not answered a scrape for 5 minutes.",
            panel="targets",
        ),
    ]


def _scorer_alerts(config: Config) -> list[Alert]:
    job = f"job={label_value(config.scorer.job)}"
    stale_after = 5 * config.scorer.tick_seconds
    return [
        Alert(
            name="VigilanteScorerAbsent",
            group="scorer",
            # Down (targets exist, none up) or absent (none discovered); both branches carry `job`.
            expr=f"sum by (job) (up{{{job}}}) == 0\nor\nabsent(up{{{job}}})",
            for_="5m",
            severity="warning",
            summary="The anomaly scorer is down or not scraped: anomalies go undetected.",
            description="No target of job {{ $labels.job }} has been up for 5 minutes.",
            panel="scorer_health",
        ),
        Alert(
            name="VigilanteScorerStale",
            group="scorer",
            # Only a warm scorer can be stale: a cold one has never scored (its last tick
            # reads 0) and VigilanteScorerNotWarm says why.
            expr=(f"(time() - {metric_names.LAST_SUCCESSFUL_TICK}{{{job}}} > {_num(stale_after)})"
                  f" and on (instance) {metric_names.MODEL_WARM}{{{job}}} == 1"),
            for_="2m",
            severity="warning",
            summary="The anomaly scorer is running but has not scored a tick recently.",
            description=(
                "Scorer {{ $labels.instance }} last scored {{ $value | humanizeDuration }} ago "
                f"(more than {_num(stale_after)}s, five ticks): it cannot read its features from Prometheus."
            ),
            panel="scorer_health",
        ),
        Alert(
            name="VigilanteScorerNotWarm",
            group="scorer",
            expr=f"{metric_names.MODEL_WARM}{{{job}}} == 0",
            for_="15m",
            severity="warning",
            summary="The anomaly scorer's model is not warm: it cannot flag anomalies yet.",
            description="Scorer {{ $labels.instance }} has reported a cold model for 15 minutes; it scores 0 until it is warm.",
            panel="scorer_health",
        ),
        Alert(
            name="VigilanteAnomalyDetected",
            group="scorer",
            # The scorer already held the score above its threshold for its hold ticks: no `for` here,
            # so the alert fires on the tick the backtest reports. The window is the longer of the
            # two evaluation intervals (Prometheus', Grafana's): an instant look at the gauge every
            # 20 s can step over a decision that was 1 for one 15 s scrape; over the window, both
            # renderings see every scraped 1, at the cost of resolving up to one window later.
            expr=f"max_over_time({metric_names.DECISION}{{{job}}}[{_num(decision_window(config))}s]) == 1",
            for_="0s",
            severity="warning",
            summary="The anomaly scorer flags the app's traffic as anomalous.",
            description=(
                f"Scorer {{{{ $labels.instance }}}} kept its anomaly score above its threshold for "
                f"{config.scorer.hold_seconds:g} s{_at_once_text(config)}: "
                f"the traffic of {template_text(config.app.service_label)} "
                "(rate, errors, latency) does not look like its baseline."
            ),
            panel="anomaly",
        ),
    ]


def _saturation_alerts(config: Config) -> list[Alert]:
    a = config.alerting
    ns = f"namespace={label_value(config.app.namespace)}"
    container = f'container=~{label_value(a.container_regex)}, container!="POD"'
    by = "namespace, pod, container"
    hpa = f'{a.kube_state_metrics_selector}, {ns}, horizontalpodautoscaler=~{label_value(a.hpa_regex)}'
    return [
        Alert(
            name="VigilanteContainerMemoryNearLimit",
            group="saturation",
            expr=(
                f"max by ({by}) (container_memory_working_set_bytes{{{a.cadvisor_selector}, {ns}, {container}, image!=\"\"}})\n"
                f"/ on ({by})\n"
                f"max by ({by}) (kube_pod_container_resource_limits{{{a.kube_state_metrics_selector}, {ns}, {container}, resource=\"memory\"}} > 0)\n"
                f"> {_num(a.memory_limit_ratio)}"
            ),
            for_="2m",
            severity="warning",
            summary="A container of the app is close to its memory limit and may be OOM-killed.",
            description=(
                "Container {{ $labels.container }} of pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} "
                "of its memory limit; at 100% the kernel kills it."
            ),
            panel="memory",
        ),
        Alert(
            name="VigilanteCPUThrottlingHigh",
            group="saturation",
            expr=(
                f"sum by ({by}) (increase(container_cpu_cfs_throttled_periods_total{{{a.cadvisor_selector}, {ns}, {container}}}[5m]))\n"
                f"/ on ({by})\n"
                f"(sum by ({by}) (increase(container_cpu_cfs_periods_total{{{a.cadvisor_selector}, {ns}, {container}}}[5m])) > 0)\n"
                f"> {_num(a.cpu_throttling_ratio)}"
            ),
            for_="15m",
            severity="info",
            summary="A container of the app is CPU-throttled by its limit.",
            description=(
                "{{ $value | humanizePercentage }} of CPU periods of container {{ $labels.container }} in pod "
                "{{ $labels.pod }} were throttled over 5 minutes."
            ),
            panel="cpu_throttling",
        ),
        Alert(
            name="VigilanteHpaMaxedOut",
            group="saturation",
            expr=(
                "max by (namespace, horizontalpodautoscaler) "
                f"(kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}})\n>=\n"
                "max by (namespace, horizontalpodautoscaler) "
                f"(kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}})"
            ),
            for_="10m",
            severity="warning",
            summary="The app's autoscaler is stuck at its maximum: it cannot add capacity.",
            description=(
                "HPA {{ $labels.horizontalpodautoscaler }} in {{ $labels.namespace }} has run at its maximum of "
                "{{ $value }} replicas for 10 minutes."
            ),
            panel="hpa_replicas",
        ),
    ]


def alerts(config: Config) -> list[Alert]:
    """Every alert for ``config``, in rendering order."""
    names = RecordedSeries(config)
    return (
        _availability_alerts(config, names)
        + _slo_alerts(config, names)
        + _scorer_alerts(config)
        + _saturation_alerts(config)
    )
