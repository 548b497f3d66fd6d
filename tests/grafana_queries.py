"""Helpers of the query proofs: every query of every generated dashboard and Grafana alert rule, and
running one the way Grafana would send it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vigilante import dashboards
from vigilante.config import Config
from vigilante.dashboards import grafana_alerts
from vigilante.dashboards.interpolation import QueryContext


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel of one generated dashboard."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    interval: str | None
    max_data_points: int
    instant: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return self.dashboard, self.panel, self.ref_id


def panel_queries(config: Config) -> dict[tuple[str, str, str], PanelQuery]:
    """(dashboard slug, panel title, refId) -> the query, for every panel target and annotation."""
    out = {}
    for slug in dashboards.build_dashboards(config):
        model = json.loads(dashboards.dashboard_json(config, slug))
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                q = PanelQuery(slug, panel["title"], target["refId"], target["expr"], panel.get("interval"),
                               panel.get("maxDataPoints") or 100, bool(target.get("instant")))
                out[q.key] = q
        for annotation in model["annotations"]["list"]:
            q = PanelQuery(slug, f"annotation: {annotation['name']}", "A", annotation["expr"], None, 100, False)
            out[q.key] = q
    return out


def alert_queries(config: Config) -> dict[tuple[str, str], str]:
    """(rule title, refId) -> PromQL, for every Prometheus query of every Grafana alert rule."""
    doc = grafana_alerts.alert_rules(config)
    return {(rule["title"], d["refId"]): d["model"]["expr"]
            for group in doc["groups"] for rule in group["rules"] for d in rule["data"]
            if d["datasourceUid"] != "__expr__"}


def context(query: PanelQuery, start: float, end: float, scrape_seconds: float,
            variables: dict[str, str]) -> QueryContext:
    return QueryContext(start=start, end=end, scrape_seconds=scrape_seconds, max_data_points=query.max_data_points,
                        min_interval=query.interval, variables=variables)


def by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    """Instant-query result -> {value of ``label``: sample value}."""
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def single(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def integral(result: list[dict[str, Any]], step: float) -> dict[str, float]:
    """Range-query result of a per-second rate -> the sum of value x step per series (the area)."""
    return {json.dumps(r["metric"], sort_keys=True): sum(float(v) for _, v in r["values"]) * step for r in result}
