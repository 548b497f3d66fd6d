"""Helpers of the query proofs: every query of every generated dashboard and Grafana alert rule, and
running one the way Grafana would send it."""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import dataclass
from types import ModuleType
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


def keys_evaluated(module: ModuleType) -> set[tuple[str, str, str]]:
    """The (dashboard, panel, refId) keys a proof module's tests evaluate, read from its source.

    A key counts when a ``test_`` function passes it, written out, to the module's ``run``, or calls
    a shorthand ``r = lambda title, ref="A": run(_, ("dashboard", title, ref), ...)`` with a written-out
    title; a ``ref`` bound by a loop over a written-out string stands for each of its letters. A
    query listed nowhere but in a set the module builds by itself is not evaluated, so not counted.
    """
    return keys_evaluated_in(inspect.getsource(module))


def keys_evaluated_in(source: str) -> set[tuple[str, str, str]]:
    """:func:`keys_evaluated` of a module's source text."""
    keys = set()
    for test in ast.parse(source).body:
        if not (isinstance(test, ast.FunctionDef) and test.name.startswith("test_")):
            continue
        parents = {child: node for node in ast.walk(test) for child in ast.iter_child_nodes(node)}
        shorthands = dict(_shorthands(test))
        for call in (n for n in ast.walk(test) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
            if call.func.id == "run" and len(call.args) >= 2 and isinstance(call.args[1], ast.Tuple):
                dashboard, title, ref = (call.args[1].elts + [None] * 3)[:3]
                dashboard = _text(dashboard)
            elif call.func.id in shorthands and call.args:
                dashboard, default = shorthands[call.func.id]
                title, ref = call.args[0], call.args[1] if len(call.args) > 1 else ast.Constant(default)
            else:
                continue
            if dashboard is not None and _text(title) is not None:
                keys.update((dashboard, _text(title), letter) for letter in _letters(ref, call, parents))
    return keys


def _text(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _shorthands(test: ast.FunctionDef):
    """(name, (dashboard, default refId)) of each ``name = lambda title, ref="A": run(_, (dashboard, title, ref))``."""
    for node in ast.walk(test):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Lambda) and isinstance(node.value.body, ast.Call)
                and len(node.value.body.args) >= 2 and isinstance(node.value.body.args[1], ast.Tuple)):
            dashboard = _text(node.value.body.args[1].elts[0])
            defaults = [_text(d) for d in node.value.args.defaults]
            if dashboard is not None and defaults and defaults[-1] is not None:
                yield node.targets[0].id, (dashboard, defaults[-1])


def _letters(ref, call: ast.AST, parents: dict) -> list[str]:
    """The refIds ``ref`` stands for: itself when written out, each letter of the string a loop binds it to."""
    if _text(ref) is not None:
        return [_text(ref)]
    if not isinstance(ref, ast.Name):
        return []
    node = call
    while node in parents:
        node = parents[node]
        loops = node.generators if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)) else \
            [node] if isinstance(node, ast.For) else []
        for loop in loops:
            if isinstance(loop.target, ast.Name) and loop.target.id == ref.id and _text(loop.iter) is not None:
                return list(_text(loop.iter))
    return []
