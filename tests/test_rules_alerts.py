"""Alert definitions: conventions, routing labels, and promtool tests at each `for:` boundary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vigilante.config import load_config
from vigilante.rules.alerts import SEVERITIES, Alert, alerts
from vigilante.rules.render import alerting_rules_yaml
from vigilante.rules.slo import duration_seconds
from scripts.harness import promtool
from scripts.demo_config import demo_config

from tests.support import REPO_ROOT as REPO
RULE_TESTS = REPO / "rules" / "tests"
ALERT_TESTS = sorted(p.name for p in RULE_TESTS.glob("*_alerts.test.yml"))
CAMEL_CASE = re.compile(r"Vigilante(?:[A-Z][a-z0-9]*|CPU)+")



@pytest.mark.parametrize("test_file", ALERT_TESTS)
def test_promtool_unit_tests_pass(test_file):
    run = promtool("test", "rules", str(RULE_TESTS / test_file))
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_test_files_exist_for_every_alert_group():
    groups = {a.group for a in alerts(demo_config())}
    assert {f"{g}_alerts.test.yml" for g in groups} == set(ALERT_TESTS)


def test_names_severities_and_texts_follow_the_conventions():
    config = demo_config()
    names = [a.name for a in alerts(config)]
    assert len(names) == len(set(names))
    for a in alerts(config):
        assert CAMEL_CASE.fullmatch(a.name), a.name
        assert a.severity in SEVERITIES
        assert "{{" not in a.summary and a.summary.endswith("."), a.name
        assert "{{ $labels." in a.description or "{{ $value" in a.description, a.name
        assert a.runbook_url(config).startswith(config.alerting.runbook_base_url + "#")


def test_severities_cover_page_ticket_and_info():
    assert {a.severity for a in alerts(demo_config())} == set(SEVERITIES)


def test_routing_labels_come_from_the_configuration(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("app:\n  service: shop\n  team: payments\n  namespace: shop\n  job: shop-web\nscorer:\n  job: shop-scorer\n")
    config = load_config(path, env={})
    for a in alerts(config):
        labels = a.all_labels(config)
        assert (labels["service"], labels["team"], labels["namespace"]) == ("shop", "payments", "shop")
        assert "ticket-app" not in a.expr and "tickets" not in a.expr
    by_name = {a.name: a for a in alerts(config)}
    assert 'vigilante_anomaly_decision{job="shop-scorer"}[20s]' in by_name["VigilanteAnomalyDetected"].expr
    assert 'up{namespace="shop", job="shop-web"}' in by_name["VigilanteAppDown"].expr


def test_burn_rate_thresholds_follow_the_slo_and_its_period(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("slo:\n  availability: 0.999\nalerting:\n  slo_period_days: 28\n")
    fast = {a.name: a for a in alerts(load_config(path, env={}))}["VigilanteErrorBudgetBurnFast"]
    # 2 % of a 28-day budget in 1 h: 0.02 * 672 = 13.44; budget 0.1 %.
    assert "> (13.44 * 0.001)" in fast.expr
    assert "> (5.6 * 0.001)" in fast.expr


def test_the_anomaly_alert_fires_on_the_scorer_decision_gauge():
    from vigilante.attach import metric_names

    anomaly = {a.name: a for a in alerts(demo_config())}["VigilanteAnomalyDetected"]
    assert anomaly.expr.startswith(f"max_over_time({metric_names.DECISION}{{")
    assert metric_names.SCORE not in anomaly.expr


@pytest.mark.parametrize("evaluation, first_seen", [("15s", "45s"), ("20s", "1m")])
def test_a_decision_of_one_scrape_fires_at_prometheus_and_grafana_intervals(tmp_path, evaluation, first_seen):
    # The decision is 1 for the single scrape at 45s. Evaluated every 20 s (Grafana's shipped
    # interval) at 40s and 1m, an instant look at the gauge sees 0 both times and never fires;
    # the rule must fire at the first evaluation whose window holds that scrape.
    rules = tmp_path / "alerts.yml"
    rules.write_text(alerting_rules_yaml(demo_config()))
    series = 'vigilante_anomaly_decision{namespace="vigilante", job="vigilante-scorer", instance="s:9110"}'
    test = {"rule_files": [rules.name], "evaluation_interval": evaluation, "tests": [{
        "interval": "15s",
        "input_series": [{"series": series, "values": "0 0 0 1 0 0 0 0 0"}],
        "promql_expr_test": [{
            "expr": 'ALERTS{alertname="VigilanteAnomalyDetected"}', "eval_time": first_seen,
            "exp_samples": [{"value": 1, "labels": (
                'ALERTS{alertname="VigilanteAnomalyDetected", alertstate="firing", instance="s:9110", '
                'job="vigilante-scorer", namespace="tickets", service="tickets", severity="warning", team="platform"}')}],
        }],
    }]}
    (tmp_path / "t.test.yml").write_text(yaml.safe_dump(test))
    run = promtool("test", "rules", str(tmp_path / "t.test.yml"))
    assert run.returncode == 0, run.stdout + run.stderr


def test_invalid_definitions_are_refused():
    with pytest.raises(ValueError, match="CamelCase"):
        Alert("AppDown", "x", "up == 0", "1m", "critical", "S.", "{{ $value }}", "targets")
    with pytest.raises(ValueError, match="severity"):
        Alert("VigilanteX", "x", "up == 0", "1m", "page", "S.", "{{ $value }}", "targets")
    with pytest.raises(ValueError, match="panel"):
        Alert("VigilanteX", "x", "up == 0", "1m", "info", "S.", "{{ $value }}", "nope")


def _boundary_cases() -> dict[str, tuple[set[int], set[int], int]]:
    """alertname -> (times it is expected to fire, times it is expected silent, eval interval)."""
    cases: dict[str, tuple[set[int], set[int], int]] = {}
    for path in RULE_TESTS.glob("*_alerts.test.yml"):
        doc = yaml.safe_load(path.read_text())
        interval = duration_seconds(doc["evaluation_interval"])
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                firing, silent, _ = cases.setdefault(case["alertname"], (set(), set(), interval))
                t = _seconds(case["eval_time"])
                (firing if case.get("exp_alerts") else silent).add((test["name"], t))
    return cases


def _seconds(text: str) -> int:
    return sum(duration_seconds(part) for part in re.findall(r"\d+[smhd]", text))


@pytest.mark.parametrize("alert", alerts(demo_config()), ids=lambda a: a.name)
def test_every_alert_is_tested_silent_one_step_before_and_firing_at_its_hold_time(alert):
    firing, silent, interval = _boundary_cases().get(alert.name, (set(), set(), 0))
    assert firing, f"no promtool test expects {alert.name} to fire"
    boundaries = [(name, t) for name, t in firing if (name, t - interval) in silent]
    assert boundaries, f"{alert.name}: no test checks it silent one evaluation before it fires"


@pytest.mark.parametrize("alert", alerts(demo_config()), ids=lambda a: a.name)
def test_firing_cases_check_every_label_and_annotation(alert):
    config = demo_config()
    for path in RULE_TESTS.glob("*_alerts.test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case["alertname"] != alert.name:
                    continue
                for expected in case.get("exp_alerts") or []:
                    labels = expected["exp_labels"]
                    assert {k: labels[k] for k in alert.all_labels(config)} == alert.all_labels(config)
                    assert set(expected["exp_annotations"]) == set(alert.annotations(config))
                    assert expected["exp_annotations"]["runbook_url"] == alert.runbook_url(config)
