"""Render the rule definitions to Prometheus rule files (and a PrometheusRule for kube-prometheus-stack).

Output is deterministic: same configuration and version, same bytes. Multi-line expressions
are written as YAML block scalars so the files read like hand-written rules.

    >>> from vigilante.config import load_config
    >>> text = alerting_rules_yaml(load_config(env={}))
    >>> "alert: VigilanteAppDown" in text
    True
"""

from __future__ import annotations

from typing import Any

import yaml

from vigilante.config import Config
from vigilante.escaping import prometheus_duration
from vigilante.rules.alerts import Alert, alerts, group_interval
from vigilante.rules.recording import recording_groups


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks and never sorts keys."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    """YAML as the generated files use it: block scalars, key order kept, wide lines."""
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1_000_000, default_flow_style=False)


def recording_rules(config: Config) -> dict:
    """The recording rules as a Prometheus rule-file document."""
    return {
        "groups": [
            {
                "name": g.name,
                **({"interval": g.interval} if g.interval else {}),
                "rules": [{"record": r.record, "expr": r.expr, **({"labels": r.labels} if r.labels else {})} for r in g.rules],
            }
            for g in recording_groups(config)
        ]
    }


def _alert_rule(alert: Alert, config: Config) -> dict:
    rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
    if alert.for_ != "0s":
        rule["for"] = alert.for_
    rule["labels"] = alert.all_labels(config)
    rule["annotations"] = alert.annotations(config)
    return rule


def alerting_rules(config: Config) -> dict:
    """The alerts as a Prometheus rule-file document, one group per alert group."""
    groups: dict[str, list[dict]] = {}
    for alert in alerts(config):
        groups.setdefault(alert.group, []).append(_alert_rule(alert, config))
    return {"groups": [{"name": f"vigilante.{group}.alerts", **_interval(config, group), "rules": rules}
                       for group, rules in groups.items()]}


def _interval(config: Config, group: str) -> dict[str, str]:
    seconds = group_interval(config, group)
    return {} if seconds is None else {"interval": prometheus_duration(seconds)}


def recording_rules_yaml(config: Config) -> str:
    return dump_yaml(recording_rules(config))


def alerting_rules_yaml(config: Config) -> str:
    return dump_yaml(alerting_rules(config))


def prometheus_rule_yaml(config: Config) -> str:
    """Recording and alerting rules as one ``PrometheusRule`` for the Prometheus Operator.

    Carries the ``release`` label kube-prometheus-stack selects rules by.
    """
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "vigilante-rules",
            "namespace": config.kubernetes.namespace,
            "labels": {"app.kubernetes.io/part-of": "vigilante", "release": config.kubernetes.release},
        },
        "spec": {"groups": recording_rules(config)["groups"] + alerting_rules(config)["groups"]},
    }
    return dump_yaml(doc)
