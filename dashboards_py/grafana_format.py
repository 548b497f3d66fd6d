"""Structural checks of the generated Grafana files against the formats Grafana documents.

No Grafana server runs here, so every file is checked against what Grafana reads, each rule citing
the documentation section (and, for alert rules, the Go types Grafana unmarshals the file into).
A check returns :class:`Problem` s; an empty list means the file has the documented shape.

    >>> from grafanalib import core as g
    >>> ruler = g.AlertRulev9(title="T", uid="t", triggers=[g.Target(expr="up", refId="A", datasource="p")])
    >>> doc = {"apiVersion": 1, "groups": [{"orgId": 1, "name": "g", "folder": "f", "interval": "1m",
    ...                                      "rules": [ruler.to_json_data()]}]}
    >>> print(check_alert_rules(doc)[0])  # doctest: +ELLIPSIS
    groups[0].rules[0]: unknown key 'grafana_alert' (the ruler-API shape): file provisioning reads ... [alert-rules]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

DOCS = {
    "alert-rules": "https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/"
                   "file-provisioning/#import-alert-rules (read into AlertRuleGroupV1/AlertRuleV1/QueryV1, "
                   "grafana/grafana pkg/services/provisioning/alerting/rules_types.go)",
    "interpolation": "https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/"
                     "file-provisioning/#template-variable-interpolation",
    "queries": "https://grafana.com/docs/grafana/latest/alerting/fundamentals/alert-rules/queries-conditions/",
    "contact-points": "https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/"
                      "file-provisioning/#import-contact-points",
    "policies": "https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/"
                "file-provisioning/#import-notification-policies",
    "datasources": "https://grafana.com/docs/grafana/latest/administration/provisioning/#data-sources",
    "prometheus": "https://grafana.com/docs/grafana/latest/datasources/prometheus/configure/#provision-the-data-source",
    "dashboards": "https://grafana.com/docs/grafana/latest/administration/provisioning/#dashboards",
    "dashboard-json": "https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/",
    "variables": "https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables",
}
"""Documentation each check cites, by key."""

UID = re.compile(r"[a-zA-Z0-9_-]{1,40}")
DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
GRAFANA_GLOBALS = {"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range",
                   "__range_s", "__range_ms", "__dashboard", "__from", "__to", "__org", "__user", "__name"}
NO_DATA_STATES = {"NoData", "Alerting", "OK", "KeepLast"}
EXEC_ERR_STATES = {"Error", "Alerting", "OK", "KeepLast"}
EXPRESSION_TYPES = {"reduce", "threshold", "math", "resample", "classic_conditions", "sql"}
REDUCERS = {"last", "mean", "min", "max", "sum", "count"}
EVALUATORS = {"gt", "lt", "within_range", "outside_range", "within_range_included", "outside_range_included"}
EXPR_UIDS = {"__expr__", "-100"}
RULE_KEYS = {"uid", "title", "condition", "data", "dashboardUid", "panelId", "noDataState", "execErrState", "for",
             "keepFiringFor", "missing_series_evals_to_resolve", "annotations", "labels", "isPaused",
             "notification_settings", "record"}
GROUP_KEYS = {"orgId", "name", "folder", "interval", "rules"}
QUERY_KEYS = {"refId", "queryType", "relativeTimeRange", "datasourceUid", "model"}
ENV_REFERENCE = re.compile(r"^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*|__env\{[A-Za-z_][A-Za-z0-9_]*\}|__file\{[^}]+\})$")


@dataclass(frozen=True)
class Problem:
    """One way a file departs from the documented format."""

    where: str
    message: str
    doc: str
    """Key of :data:`DOCS`."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.doc}]"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str, doc: str) -> None:
        self.problems.append(Problem(where, message, doc))

    def need(self, ok: bool, where: str, message: str, doc: str) -> bool:
        if not ok:
            self.fail(where, message, doc)
        return ok

    def string(self, obj: dict, key: str, where: str, doc: str, pattern: re.Pattern | None = None) -> str | None:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"'{key}' must be a non-empty string, got {value!r}", doc)
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(where, f"'{key}' {value!r} does not match {pattern.pattern}", doc)
        return value

    def api_version(self, doc_obj: Any, doc: str) -> bool:
        if not isinstance(doc_obj, dict):
            self.fail("<file>", "must be a mapping", doc)
            return False
        return self.need(doc_obj.get("apiVersion") == 1, "apiVersion", "apiVersion must be 1", doc)

    def no_policies(self, document: dict) -> None:
        """An add-on ships no notification policies, whatever the file."""
        if "policies" in document:
            self.fail("policies", "notification policies replace the organisation's whole routing tree: not shipped",
                      "policies")


# --- alert rules -------------------------------------------------------------------------


def check_alert_rules(document: Any) -> list[Problem]:
    """Problems of an alert-rules provisioning document (``apiVersion``, ``groups``)."""
    c = _Checker()
    if not c.api_version(document, "alert-rules"):
        return c.problems
    c.no_policies(document)
    groups = document.get("groups")
    if not c.need(isinstance(groups, list) and groups, "groups", "must be a non-empty list", "alert-rules"):
        return c.problems
    uids: set[str] = set()
    titles: set[tuple[str, str]] = set()
    for gi, group in enumerate(groups):
        where = f"groups[{gi}]"
        if not c.need(isinstance(group, dict), where, "must be a mapping", "alert-rules"):
            continue
        for key in sorted(set(group) - GROUP_KEYS):
            c.fail(where, f"unknown key '{key}'", "alert-rules")
        c.need(isinstance(group.get("orgId"), int) and group["orgId"] >= 1, where, "'orgId' must be an integer >= 1",
               "alert-rules")
        c.string(group, "name", where, "alert-rules")
        folder = c.string(group, "folder", where, "alert-rules") or ""
        interval = c.string(group, "interval", where, "alert-rules", DURATION)
        if interval and DURATION.fullmatch(interval):
            c.need(_seconds(interval) % 10 == 0 and _seconds(interval) > 0, where,
                   f"'interval' {interval} must be a positive multiple of 10s (the scheduler's base interval)",
                   "alert-rules")
        rules = group.get("rules")
        if not c.need(isinstance(rules, list) and rules, where, "'rules' must be a non-empty list", "alert-rules"):
            continue
        for ri, rule in enumerate(rules):
            _check_rule(c, rule, f"{where}.rules[{ri}]", folder, uids, titles)
    return c.problems


def _check_rule(c: _Checker, rule: Any, where: str, folder: str, uids: set[str], titles: set) -> None:
    if not c.need(isinstance(rule, dict), where, "must be a mapping", "alert-rules"):
        return
    if "grafana_alert" in rule:
        c.fail(where, "unknown key 'grafana_alert' (the ruler-API shape): file provisioning reads title, "
               "condition, data, noDataState and execErrState at rule level and would reject this rule "
               "with 'rule has no title set'", "alert-rules")
    for key in sorted(set(rule) - RULE_KEYS - {"grafana_alert"}):
        c.fail(where, f"unknown key '{key}'", "alert-rules")
    uid = c.string(rule, "uid", where, "alert-rules", UID)
    if uid:
        c.need(uid not in uids, where, f"uid {uid!r} is used twice", "alert-rules")
        uids.add(uid)
    title = c.string(rule, "title", where, "alert-rules")
    if title:
        c.need((folder, title) not in titles, where, f"title {title!r} is used twice in folder {folder!r}",
               "alert-rules")
        titles.add((folder, title))
    for key in ("uid", "title"):
        if isinstance(rule.get(key), str) and "$" in rule[key]:
            c.fail(where, f"'{key}' contains '$', which Grafana replaces with an environment variable",
                   "interpolation")
    c.need(rule.get("noDataState") in NO_DATA_STATES, where,
           f"'noDataState' must be one of {sorted(NO_DATA_STATES)}, got {rule.get('noDataState')!r}", "alert-rules")
    c.need(rule.get("execErrState") in EXEC_ERR_STATES, where,
           f"'execErrState' must be one of {sorted(EXEC_ERR_STATES)}, got {rule.get('execErrState')!r}",
           "alert-rules")
    c.string(rule, "for", where, "alert-rules", DURATION)
    for key in ("labels", "annotations"):
        value = rule.get(key)
        c.need(isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
               where, f"'{key}' must be a mapping of strings", "alert-rules")
    for name, value in (rule.get("labels") or {}).items():
        if isinstance(value, str) and "$" in value:
            c.fail(f"{where}.labels.{name}", "labels are interpolated with environment variables: no '$'",
                   "interpolation")
    for name, value in (rule.get("annotations") or {}).items():
        if isinstance(value, str) and "${" in value:
            c.fail(f"{where}.annotations.{name}", "'${' is replaced from the environment", "interpolation")
    if "dashboardUid" in rule or "panelId" in rule:
        c.need(isinstance(rule.get("dashboardUid"), str) and UID.fullmatch(rule["dashboardUid"] or "") is not None
               and isinstance(rule.get("panelId"), int), where,
               "'dashboardUid' (a dashboard uid) and 'panelId' (an integer) go together", "alert-rules")
    data = rule.get("data")
    if not c.need(isinstance(data, list) and data, where, "'data' must be a non-empty list", "alert-rules"):
        return
    refs: dict[str, dict] = {}
    for qi, query in enumerate(data):
        _check_query(c, query, f"{where}.data[{qi}]", refs)
    condition = rule.get("condition")
    if c.need(condition in refs, where, f"'condition' {condition!r} must name a refId of 'data'", "alert-rules"):
        model = refs[condition].get("model", {})
        c.need(model.get("type") == "threshold", where,
               f"the condition {condition!r} should be a threshold expression", "queries")
    for ref, query in refs.items():
        model = query.get("model", {})
        if query.get("datasourceUid") in EXPR_UIDS and model.get("type") in ("reduce", "threshold"):
            c.need(model.get("expression") in refs and model.get("expression") != ref, f"{where}.data[{ref}]",
                   f"'expression' {model.get('expression')!r} must name another refId", "queries")


def _check_query(c: _Checker, query: Any, where: str, refs: dict) -> None:
    if not c.need(isinstance(query, dict), where, "must be a mapping", "alert-rules"):
        return
    for key in sorted(set(query) - QUERY_KEYS):
        c.fail(where, f"unknown key '{key}'", "alert-rules")
    ref = c.string(query, "refId", where, "alert-rules")
    if ref:
        c.need(ref not in refs, where, f"refId {ref!r} is used twice", "alert-rules")
        refs[ref] = query
    datasource = c.string(query, "datasourceUid", where, "alert-rules")
    model = query.get("model")
    if not c.need(isinstance(model, dict), where, "'model' must be a mapping", "alert-rules"):
        return
    c.need(model.get("refId") == ref, where, "'model.refId' must equal 'refId'", "alert-rules")
    span = query.get("relativeTimeRange")
    if not c.need(isinstance(span, dict) and isinstance(span.get("from"), int) and isinstance(span.get("to"), int),
                  where, "'relativeTimeRange' must be {from: seconds, to: seconds}", "alert-rules"):
        return
    if datasource in EXPR_UIDS:
        kind = model.get("type")
        c.need(kind in EXPRESSION_TYPES, where, f"expression type {kind!r} is not one of {sorted(EXPRESSION_TYPES)}",
               "queries")
        if kind == "reduce":
            c.need(model.get("reducer") in REDUCERS, where, f"reducer must be one of {sorted(REDUCERS)}", "queries")
        if kind == "threshold":
            conditions = model.get("conditions")
            ok = isinstance(conditions, list) and len(conditions) == 1 and isinstance(conditions[0], dict)
            evaluator = conditions[0].get("evaluator", {}) if ok else {}
            c.need(ok and evaluator.get("type") in EVALUATORS
                   and isinstance(evaluator.get("params"), list) and evaluator["params"]
                   and all(isinstance(p, (int, float)) for p in evaluator["params"]),
                   where, "a threshold needs one condition with evaluator {type: gt|lt|..., params: [numbers]}",
                   "queries")
    else:
        c.need(span["from"] > span["to"] >= 0, where,
               "a datasource query needs relativeTimeRange.from > to >= 0 (seconds before now)", "alert-rules")
        c.need(isinstance(model.get("expr"), str) and model["expr"].strip() != "", where,
               "a Prometheus query needs a non-empty 'model.expr'", "alert-rules")


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration))


# --- datasource, dashboard provider, contact points ----------------------------------------


def check_datasources(document: Any) -> list[Problem]:
    """Problems of a datasource provisioning document."""
    c = _Checker()
    if not c.api_version(document, "datasources"):
        return c.problems
    sources = document.get("datasources")
    if not c.need(isinstance(sources, list) and sources, "datasources", "must be a non-empty list", "datasources"):
        return c.problems
    for i, source in enumerate(sources):
        where = f"datasources[{i}]"
        c.string(source, "name", where, "datasources")
        c.string(source, "type", where, "datasources")
        c.string(source, "uid", where, "datasources", UID)
        c.string(source, "url", where, "datasources")
        c.need(source.get("access") in ("proxy", "direct"), where, "'access' must be proxy or direct", "datasources")
        json_data = source.get("jsonData", {})
        if source.get("type") == "prometheus":
            c.need(isinstance(json_data, dict) and isinstance(json_data.get("timeInterval"), str)
                   and DURATION.fullmatch(json_data["timeInterval"]) is not None, where,
                   "'jsonData.timeInterval' (the scrape interval $__rate_interval is built from) must be a duration",
                   "prometheus")
    return c.problems


def check_dashboard_providers(document: Any) -> list[Problem]:
    """Problems of a dashboard-provider provisioning document."""
    c = _Checker()
    if not c.api_version(document, "dashboards"):
        return c.problems
    providers = document.get("providers")
    if not c.need(isinstance(providers, list) and providers, "providers", "must be a non-empty list", "dashboards"):
        return c.problems
    for i, provider in enumerate(providers):
        where = f"providers[{i}]"
        c.string(provider, "name", where, "dashboards")
        c.need(provider.get("type") == "file", where, "'type' must be file", "dashboards")
        c.need(isinstance(provider.get("folder"), str), where, "'folder' must be a string", "dashboards")
        options = provider.get("options")
        c.need(isinstance(options, dict) and isinstance(options.get("path"), str) and options["path"].strip() != "",
               where, "'options.path' must name the directory of the dashboard files", "dashboards")
        for key in ("disableDeletion", "allowUiUpdates"):
            c.need(isinstance(provider.get(key, False), bool), where, f"'{key}' must be true or false", "dashboards")
        c.need(provider.get("allowUiUpdates") is False, where,
               "generated dashboards must not be saved from the UI: 'allowUiUpdates: false'", "dashboards")
        c.need(isinstance(provider.get("updateIntervalSeconds", 10), int), where,
               "'updateIntervalSeconds' must be an integer", "dashboards")
    return c.problems


_SECRET_SETTINGS = {"webhook": ("url", "password", "authorization_credentials"), "email": ("addresses",)}
_REQUIRED_SETTINGS = {"webhook": ("url",), "email": ("addresses",)}


def check_contact_points(document: Any) -> list[Problem]:
    """Problems of a contact-point provisioning document; secrets must be environment references."""
    c = _Checker()
    if not c.api_version(document, "contact-points"):
        return c.problems
    c.no_policies(document)
    points = document.get("contactPoints")
    if not c.need(isinstance(points, list) and points, "contactPoints", "must be a non-empty list", "contact-points"):
        return c.problems
    for i, point in enumerate(points):
        where = f"contactPoints[{i}]"
        c.need(isinstance(point.get("orgId", 1), int), where, "'orgId' must be an integer", "contact-points")
        c.string(point, "name", where, "contact-points")
        receivers = point.get("receivers")
        if not c.need(isinstance(receivers, list) and receivers, where, "'receivers' must be a non-empty list",
                      "contact-points"):
            continue
        for j, receiver in enumerate(receivers):
            rwhere = f"{where}.receivers[{j}]"
            c.string(receiver, "uid", rwhere, "contact-points", UID)
            kind = c.string(receiver, "type", rwhere, "contact-points")
            settings = receiver.get("settings")
            if not c.need(isinstance(settings, dict) and settings, rwhere, "'settings' must be a non-empty mapping",
                          "contact-points"):
                continue
            for key in _REQUIRED_SETTINGS.get(kind, ()):
                c.need(key in settings, rwhere, f"a {kind} receiver needs 'settings.{key}'", "contact-points")
            for key in _SECRET_SETTINGS.get(kind, ()):
                if key in settings:
                    c.need(isinstance(settings[key], str) and ENV_REFERENCE.fullmatch(settings[key]) is not None,
                           f"{rwhere}.settings.{key}", "must come from the environment (${VAR} or $__env{VAR}), "
                           "not be written in the file", "interpolation")
    return c.problems


# --- dashboards --------------------------------------------------------------------------

VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|([A-Za-z0-9_]+))")


def check_dashboard(model: Any, generated_key: str = "__generated") -> list[Problem]:
    """Problems of a generated dashboard JSON model (the house rules included: descriptions, units,
    the ``datasource``/``namespace``/``job`` variables, the generated marker)."""
    c = _Checker()
    if not c.need(isinstance(model, dict), "<file>", "must be a JSON object", "dashboard-json"):
        return c.problems
    c.string(model, "title", "<dashboard>", "dashboard-json")
    c.string(model, "uid", "<dashboard>", "dashboard-json", UID)
    c.need(model.get("id") is None, "<dashboard>", "'id' is assigned by the Grafana database: leave it null",
           "dashboard-json")
    c.need(isinstance(model.get("schemaVersion"), int), "<dashboard>", "'schemaVersion' must be an integer",
           "dashboard-json")
    c.need(model.get("editable") is False, "<dashboard>", "a generated dashboard is not editable", "dashboards")
    c.need(isinstance(model.get(generated_key), str) and "do not edit" in model[generated_key], "<dashboard>",
           f"'{generated_key}' must say the file is generated", "dashboard-json")
    variables = {v.get("name"): v for v in model.get("templating", {}).get("list", []) if isinstance(v, dict)}
    ds = variables.get("datasource", {})
    c.need(ds.get("type") == "datasource" and ds.get("query") == "prometheus", "templating",
           "needs a 'datasource' variable of type datasource listing prometheus datasources", "dashboard-json")
    for name in ("namespace", "job"):
        var = variables.get(name, {})
        c.need(var.get("type") == "query" and isinstance(var.get("query"), str) and "label_values(" in var["query"],
               "templating", f"needs a '{name}' query variable (label_values)", "dashboard-json")
    known = set(variables) | GRAFANA_GLOBALS
    ids: set[int] = set()
    for i, panel in enumerate(model.get("panels", [])):
        where = f"panels[{i}] {panel.get('title')!r}"
        pid = panel.get("id")
        if c.need(isinstance(pid, int), where, "'id' must be an integer", "dashboard-json"):
            c.need(pid not in ids, where, f"panel id {pid} is used twice", "dashboard-json")
            ids.add(pid)
        grid = panel.get("gridPos") or {}
        c.need(all(isinstance(grid.get(k), int) for k in "hwxy") and grid["x"] + grid["w"] <= 24, where,
               "'gridPos' needs integer h, w, x, y with x + w <= 24", "dashboard-json")
        c.string(panel, "type", where, "dashboard-json")
        if panel.get("type") == "row":
            continue
        c.string(panel, "title", where, "dashboard-json")
        c.string(panel, "description", where, "dashboard-json")
        c.need(panel.get("datasource") == {"type": "prometheus", "uid": "${datasource}"}, where,
               "'datasource' must be the datasource variable", "dashboard-json")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        c.need(isinstance(unit, str) and unit != "", where, "needs a unit (fieldConfig.defaults.unit)",
               "dashboard-json")
        targets = panel.get("targets") or []
        c.need(bool(targets), where, "needs at least one query", "dashboard-json")
        refs = [t.get("refId") for t in targets]
        c.need(len(set(refs)) == len(refs) and all(refs), where, "refIds must be unique and non-empty",
               "dashboard-json")
        for t in targets:
            c.need(isinstance(t.get("expr"), str) and t["expr"].strip() != "", where, "a query needs 'expr'",
                   "dashboard-json")
            c.need(t.get("datasource") == panel.get("datasource"), where, "query datasource must be the panel's",
                   "dashboard-json")
            _check_variables(c, t.get("expr", ""), known, where)
    for i, annotation in enumerate(model.get("annotations", {}).get("list", [])):
        _check_variables(c, annotation.get("expr", ""), known, f"annotations[{i}]")
    return c.problems


def _check_variables(c: _Checker, expr: str, known: set[str], where: str) -> None:
    for braced, plain in VARIABLE.findall(expr):
        name = braced or plain
        c.need(name in known, where, f"'${name}' is neither a dashboard variable nor a Grafana global", "variables")


CHECKS: dict[str, Callable[[Any], list[Problem]]] = {
    "alert-rules": check_alert_rules,
    "datasource": check_datasources,
    "dashboard-provider": check_dashboard_providers,
    "contact-points": check_contact_points,
    "dashboard": check_dashboard,
}
"""Kind of file -> its check."""
