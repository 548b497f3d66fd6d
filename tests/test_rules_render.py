"""Rendering to Prometheus rule files: promtool-valid, deterministic, and the PrometheusRule wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vigilante.config import load_config
from vigilante.rules.render import alerting_rules, alerting_rules_yaml, prometheus_rule_yaml, recording_rules, recording_rules_yaml
from scripts.harness import promtool

from tests.support import REPO_ROOT as REPO
GENERATED = REPO / "rules" / "generated"



@pytest.mark.parametrize("name", ["vigilante-recording.rules.yml", "vigilante-alerts.rules.yml"])
def test_promtool_checks_the_committed_rule_files(name):
    run = promtool("check", "rules", str(GENERATED / name))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_checks_rules_rendered_from_a_non_default_configuration(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "app:\n  metric_prefix: shop\n  route_label: endpoint\n  job: shop-web\n  namespace: shop\n"
        "slo:\n  availability: 0.999\n  latency_p95_seconds: 0.25\n"
        "alerting:\n  cadvisor_selector: 'job=\"cadvisor\"'\n  hpa_regex: shop-.*\n"
    )
    config = load_config(path, env={})
    for name, text in [("rec.yml", recording_rules_yaml(config)), ("alerts.yml", alerting_rules_yaml(config))]:
        (tmp_path / name).write_text(text)
        run = promtool("check", "rules", str(tmp_path / name))
        assert run.returncode == 0, run.stdout + run.stderr
    text = alerting_rules_yaml(config)
    assert 'container_memory_working_set_bytes{job="cadvisor", namespace="shop"' in text
    assert 'horizontalpodautoscaler=~"shop-.*"' in text


def test_multi_line_expressions_are_yaml_blocks_and_round_trip():
    text = recording_rules_yaml(load_config(env={}))
    assert "expr: |-\n" in text
    assert yaml.safe_load(text) == recording_rules(load_config(env={}))


def test_alert_rules_carry_for_only_when_there_is_a_hold_time():
    rules_by_name = {r["alert"]: r for g in alerting_rules(load_config(env={}))["groups"] for r in g["rules"]}
    assert "for" not in rules_by_name["VigilanteAnomalyDetected"]
    assert rules_by_name["VigilanteAppDown"]["for"] == "1m"


def test_prometheus_rule_wraps_the_same_groups_with_the_release_label(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kubernetes:\n  release: monitoring\n  namespace: observability\n")
    config = load_config(path, env={})
    doc = yaml.safe_load(prometheus_rule_yaml(config))
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["labels"]["release"] == "monitoring"
    assert doc["metadata"]["namespace"] == "observability"
    assert doc["spec"]["groups"] == recording_rules(config)["groups"] + alerting_rules(config)["groups"]
