"""Stable Grafana dashboard uids and panel ids that alerts link to.

An alert's ``dashboard_url`` points at the panel that shows what it fires on. Panel ids
are fixed here rather than left to ``auto_panel_ids()`` so the links (and Grafana's
``__dashboardUid__`` / ``__panelId__`` rule annotations) stay valid across regenerations;
the dashboards give these panels exactly these ids.

    >>> from vigilante.config import load_config
    >>> PANELS["error_ratio"].url(load_config(env={}))
    'http://localhost:3000/d/vigilante-overview?viewPanel=2'
"""

from __future__ import annotations

from dataclasses import dataclass

from vigilante.config import Config


@dataclass(frozen=True)
class Panel:
    """One panel of a generated dashboard."""

    dashboard: str
    """Dashboard slug; its uid is ``<grafana.uid_prefix>-<dashboard>``."""
    panel_id: int
    title: str

    def dashboard_uid(self, config: Config) -> str:
        return f"{config.grafana.uid_prefix}-{self.dashboard}"

    def url(self, config: Config) -> str:
        """Link that opens the dashboard with this panel in view."""
        base = config.alerting.grafana_base_url.rstrip("/")
        return f"{base}/d/{self.dashboard_uid(config)}?viewPanel={self.panel_id}"


PANELS: dict[str, Panel] = {
    "requests": Panel("overview", 1, "Requests per second"),
    "error_ratio": Panel("overview", 2, "Error ratio (5xx)"),
    "latency": Panel("overview", 3, "Latency p50 / p95 / p99"),
    "anomaly": Panel("overview", 4, "Anomaly score, threshold and decision"),
    "targets": Panel("overview", 5, "Scrape targets up"),
    "error_budget": Panel("overview", 6, "Error-budget burn rate"),
    "scorer_health": Panel("overview", 7, "Scorer health"),
    "memory": Panel("resources", 1, "Memory working set / limit"),
    "cpu_throttling": Panel("resources", 2, "CPU throttling"),
    "hpa_replicas": Panel("resources", 3, "HPA replicas / maximum"),
}
