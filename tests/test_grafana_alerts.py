"""Grafana-managed alert rules: one per shared alert definition, in the file-provisioning shape."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from vigilante.dashboards import grafana_alerts, grafana_format
from vigilante.rules.alerts import alerts
from scripts.demo_config import demo_config

from tests.support import REPO_ROOT


@pytest.fixture(scope="module")
def config():
    return demo_config()


@pytest.fixture(scope="module")
def document(config):
    return grafana_alerts.alert_rules(config)


def rules_of(document):
    return {rule["title"]: rule for group in document["groups"] for rule in group["rules"]}


def test_the_document_has_the_documented_shape(document):
    assert grafana_format.check_alert_rules(document) == []


def test_the_committed_file_grafana_reads_has_the_documented_shape():
    # The file on disk, as Grafana's provisioning reads it (not the in-memory document): its
    # drift from the rendering is checked once, in tests/test_generate.py.
    text = (REPO_ROOT / "dashboards_py" / "generated" / "grafana-alert-rules.yaml").read_text()
    assert grafana_format.check_alert_rules(yaml.safe_load(text)) == []


def test_every_shared_alert_is_one_grafana_rule_with_its_hold_severity_and_texts(config, document):
    rules = rules_of(document)
    assert set(rules) == {a.name for a in alerts(config)}
    for alert in alerts(config):
        rule = rules[alert.name]
        assert rule["for"] == alert.for_
        assert rule["labels"] == alert.all_labels(config)
        assert rule["annotations"]["summary"] == alert.summary
        assert rule["annotations"]["runbook_url"] == alert.runbook_url(config)
        panel = alert.dashboard_panel()
        assert (rule["dashboardUid"], rule["panelId"]) == (panel.dashboard_uid(config), panel.panel_id)


def test_each_rule_queries_fires_on_a_threshold_of_the_reduced_indicator(config, document):
    exprs = {a.name: a.expr for a in alerts(config)}
    for title, rule in rules_of(document).items():
        data = {d["refId"]: d for d in rule["data"]}
        assert rule["condition"] == "C"
        a, v, b, c = data["A"], data["V"], data["B"], data["C"]
        assert a["datasourceUid"] == v["datasourceUid"] == config.grafana.datasource_uid
        assert a["relativeTimeRange"]["from"] > 0 and a["model"]["instant"] is True
        # What A and V return is checked on real traffic in tests/test_dashboards_queries.py:
        # they fire exactly where the Prometheus rule's condition holds, with the same labels.
        assert exprs[title] in a["model"]["expr"] and exprs[title] in v["model"]["expr"]
        assert b["datasourceUid"] == "__expr__" and b["model"]["type"] == "reduce"
        assert b["model"]["reducer"] == "last" and b["model"]["expression"] == "A"
        assert c["datasourceUid"] == "__expr__" and c["model"]["type"] == "threshold"
        assert c["model"]["expression"] == "B"
        assert c["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [0]}
        # An empty filter result means the condition does not hold.
        assert rule["noDataState"] == "OK" and rule["execErrState"] == "Error"


def test_groups_live_in_the_configured_folder_and_interval(config):
    changed = config.replace("grafana", folder="Shop alerts", alert_interval_seconds=60)
    for group in grafana_alerts.alert_rules(changed)["groups"]:
        assert group["folder"] == "Shop alerts" and group["interval"] == "60s" and group["orgId"] == 1
        assert group["name"].startswith("vigilante.")


def test_descriptions_read_the_value_query_not_grafanas_value_string(document):
    for rule in rules_of(document).values():
        description = rule["annotations"]["description"]
        assert "$value " not in description and "$value}" not in description and "$value |" not in description
    burn = rules_of(document)["VigilanteErrorBudgetBurnFast"]["annotations"]["description"]
    assert burn.startswith("{{ $values.V.Value | humanizePercentage }}")


def test_rule_uids_are_stable_unique_and_follow_the_prefix(config, document):
    uids = [r["uid"] for r in rules_of(document).values()]
    assert len(set(uids)) == len(uids) and all(u.startswith("vigilante-") and len(u) <= 40 for u in uids)
    again = [r["uid"] for r in rules_of(grafana_alerts.alert_rules(demo_config())).values()]
    assert again == uids
    # Each change reaches the rules (none is the configuration's own value) and renames nothing.
    for section, change in (("slo", {"availability": 0.999}), ("scorer", {"hold_seconds": 150}), ("grafana", {"folder": "X"})):
        tuned = grafana_alerts.alert_rules(config.replace(section, **change))
        assert tuned != document, section
        assert [r["uid"] for r in rules_of(tuned).values()] == uids, section
    renamed = config.replace("grafana", uid_prefix="shop")
    assert all(r["uid"].startswith("shop-") for r in rules_of(grafana_alerts.alert_rules(renamed)).values())


def test_grafanalibs_ruler_shape_is_rejected_by_our_check(config, document):
    """grafanalib 0.7.1's AlertRulev9 nests the rule under `grafana_alert`, which file provisioning does not read."""
    ruler = grafana_alerts.ruler_rule(config, alerts(config)[0]).to_json_data()
    assert "grafana_alert" in ruler and "title" not in ruler
    bad = copy.deepcopy(document)
    bad["groups"][0]["rules"][0] = ruler
    problems = grafana_format.check_alert_rules(bad)
    assert any("grafana_alert" in p.message and p.doc == "alert-rules" for p in problems)
    assert any("'title'" in p.message for p in problems)


def test_no_notification_policies_are_shipped(document):
    assert "policies" not in document and "resetPolicies" not in document
