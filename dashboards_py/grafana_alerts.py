"""The alerts of :mod:`vigilante.rules.alerts`, rendered as Grafana-managed alert rules for file provisioning.

Every alert expression is a *filter*: it returns a series exactly while its condition holds. Grafana
fires on a threshold, so each rule runs the expression twice:

- ``A``: ``(<expr>) * 0 + 1``, 1 for every series the expression returns (the condition holds,
  whatever the value: ``up == 0`` returns 0, which a threshold on the raw value would miss);
- ``B``: reduce ``A`` to its last value; ``C``: threshold ``B > 0``, the rule's condition;
- ``V``: ``(<expr>) * 1``, the expression's value, which the description shows (``$values.V.Value``);
  ``* 1`` drops the metric name as ``A`` does, so both carry the same labels and Grafana pairs them.

No series means the condition does not hold, so ``noDataState`` is ``OK``; a failed query
(Prometheus down) is ``Error``, which Grafana reports as its own alert state.

grafanalib 0.7.1 builds the queries (:class:`~grafanalib.core.Target`,
:class:`~grafanalib.core.AlertExpression` for the reduce) and the rule
(:class:`~grafanalib.core.AlertRulev9`), but writes the rule in the *ruler API* shape (``for``,
``labels`` and ``annotations`` outside, everything else nested under ``grafana_alert``) and has no
threshold expression; file provisioning reads neither. :func:`file_rule` lifts the rule into the
file shape, and :func:`threshold` adds ``C``.

    >>> from vigilante.config import load_config
    >>> doc = alert_rules(load_config(env={}))
    >>> rule = {r["title"]: r for g in doc["groups"] for r in g["rules"]}["VigilanteAnomalyDetected"]
    >>> rule["uid"], rule["condition"], [d["refId"] for d in rule["data"]]
    ('vigilante-anomaly-detected', 'C', ['A', 'V', 'B', 'C'])
    >>> rule["data"][0]["model"]["expr"]
    '(max_over_time(vigilante_anomaly_decision{job="vigilante-scorer"}[20s]) == 1) * 0 + 1'
"""

from __future__ import annotations

import re
from typing import Any

from grafanalib import core as g

from vigilante.config import Config
from vigilante.rules.alerts import Alert, alerts
from vigilante.rules.render import dump_yaml

EXPR_DATASOURCE = "__expr__"
"""Datasource uid of Grafana's server-side expressions (grafanalib writes the legacy ``-100``)."""

QUERY_LOOKBACK_SECONDS = 600
"""``relativeTimeRange.from`` of the Prometheus queries. They are instant queries, evaluated at the
end of the range; the range must still be positive for Grafana to accept the rule."""

NO_DATA_STATE = "OK"
EXEC_ERR_STATE = "Error"
PROMETHEUS_VALUE = re.compile(r"\$value\b(?!s)")
TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}", re.S)


def rule_uid(config: Config, alert: Alert) -> str:
    """``<uid_prefix>-<name in kebab case, without the common prefix>``: stable while neither is renamed.

    >>> from vigilante.config import load_config
    >>> from vigilante.rules.alerts import alerts
    >>> a = {a.name: a for a in alerts(load_config(env={}))}["VigilanteContainerMemoryNearLimit"]
    >>> rule_uid(load_config(env={}), a)
    'vigilante-container-memory-near-limit'
    """
    name = alert.name.removeprefix("Vigilante") or alert.name
    kebab = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()
    uid = f"{config.grafana.uid_prefix}-{kebab}"
    if len(uid) > 40:  # Grafana's limit for alert rule uids
        raise ValueError(f"alert rule uid {uid!r} is longer than 40 characters: shorten the alert name")
    return uid


def grafana_template(text: str) -> str:
    """A Prometheus annotation template for Grafana: ``$value`` is the value of query ``V``.

    In Grafana ``$value`` is a string listing every query's labels and value, which ``humanize``
    functions cannot read; ``$values.V.Value`` is the number.

    >>> grafana_template("{{ $value | humanizePercentage }} of {{ $labels.job }}")
    '{{ $values.V.Value | humanizePercentage }} of {{ $labels.job }}'
    """
    # Only inside actions: ``$value`` in literal text (a service named so) stays as it is.
    return TEMPLATE_ACTION.sub(lambda action: PROMETHEUS_VALUE.sub("$values.V.Value", action.group()), text)


def indicator(expr: str) -> str:
    """1 for every series ``expr`` returns."""
    return f"({expr}) * 0 + 1"


def value(expr: str) -> str:
    """``expr``'s value, without the metric name (so its labels are exactly those of :func:`indicator`)."""
    return f"({expr}) * 1"


def threshold(ref_id: str, expression: str, above: float) -> dict[str, Any]:
    """A threshold expression: ``expression`` > ``above`` (grafanalib 0.7.1 has no threshold type)."""
    return {
        "refId": ref_id,
        "queryType": "",
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPR_DATASOURCE,
        "model": {
            "refId": ref_id,
            "type": "threshold",
            "expression": expression,
            "datasource": {"type": EXPR_DATASOURCE, "uid": EXPR_DATASOURCE},
            "conditions": [{
                "type": "query",
                "evaluator": {"type": "gt", "params": [above]},
                "operator": {"type": "and"},
                "query": {"params": [ref_id]},
                "reducer": {"type": "last", "params": []},
            }],
            "hide": False,
            "intervalMs": 1000,
            "maxDataPoints": 43200,
        },
    }


def ruler_rule(config: Config, alert: Alert) -> g.AlertRulev9:
    """The rule as grafanalib builds it (ruler-API shape), queries ``A``, ``V`` and reduce ``B``."""
    panel = alert.dashboard_panel()

    def query(ref_id: str, expr: str) -> g.Target:
        return g.Target(expr=expr, refId=ref_id, instant=True, datasource=config.grafana.datasource_uid,
                        intervalFactor=1, legendFormat="__auto")

    return g.AlertRulev9(
        title=alert.name,
        uid=rule_uid(config, alert),
        triggers=[
            query("A", indicator(alert.expr)),
            query("V", value(alert.expr)),
            g.AlertExpression(refId="B", expression="A", expressionType=g.EXP_TYPE_REDUCE,
                              reduceFunction=g.EXP_REDUCER_FUNC_LAST, reduceMode=g.EXP_REDUCER_MODE_STRICT),
        ],
        condition="C",
        annotations={
            "summary": alert.summary,
            "description": grafana_template(alert.description),
            **({"runbook_url": alert.runbook_url(config)} if alert.runbook_url(config) else {}),
        },
        labels=alert.all_labels(config),
        evaluateFor=alert.for_,
        noDataAlertState=NO_DATA_STATE,
        errorAlertState=EXEC_ERR_STATE,
        timeRangeFrom=QUERY_LOOKBACK_SECONDS,
        dashboard_uid=panel.dashboard_uid(config),
        panel_id=panel.panel_id,
    )


def file_rule(rule: g.AlertRulev9, config: Config) -> dict[str, Any]:
    """Lift grafanalib's ruler-API rule into the file-provisioning shape and add threshold ``C``."""
    ruler = rule.to_json_data()
    nested = ruler["grafana_alert"]
    data = []
    for entry in nested["data"]:
        entry = dict(entry)
        model = dict(entry["model"])
        if entry["datasourceUid"] == "-100":  # grafanalib's legacy uid of server-side expressions
            entry["datasourceUid"] = EXPR_DATASOURCE
            model["datasource"] = {"type": EXPR_DATASOURCE, "uid": EXPR_DATASOURCE}
        else:
            model["datasource"] = {"type": "prometheus", "uid": config.grafana.datasource_uid}
            model["range"] = False
        entry["model"] = model
        entry.setdefault("queryType", "")
        data.append(entry)
    data.append(threshold(nested["condition"], "B", 0))
    return {
        "uid": ruler["uid"],
        "title": nested["title"],
        "condition": nested["condition"],
        "data": data,
        "dashboardUid": rule.dashboard_uid,
        "panelId": rule.panel_id,
        "noDataState": nested["no_data_state"],
        "execErrState": nested["exec_err_state"],
        "for": ruler["for"],
        "annotations": ruler["annotations"],
        "labels": ruler["labels"],
        "isPaused": False,
    }


def alert_rules(config: Config) -> dict[str, Any]:
    """The alert-rules provisioning document: one group per alert group, in the configured folder."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts(config):
        groups.setdefault(alert.group, []).append(file_rule(ruler_rule(config, alert), config))
    return g.AlertFileBasedProvisioning(groups=[
        {
            "orgId": 1,
            "name": f"vigilante.{name}",
            "folder": config.grafana.folder,
            "interval": f"{config.grafana.alert_interval_seconds}s",
            "rules": rules,
        }
        for name, rules in groups.items()
    ]).to_json_data()


def alert_rules_yaml(config: Config) -> str:
    """The alert-rules file body (the generator adds the header)."""
    return dump_yaml(alert_rules(config))
