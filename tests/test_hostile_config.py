"""Hostile strings in the configuration: read back as exactly themselves, or refused with one line.

Generated configurations put quotes, backslashes, template braces, PromQL fragments and
non-ASCII text into every name that reaches a selector, a label or a template. For each, the
real ``promtool`` checks the rendered rule files and runs them on input series of the
configured job and of a decoy job: the rules must record the configured job alone, and the
anomaly alert must carry the configured routing labels verbatim. ``amtool`` checks the
Alertmanager file. Jobs with what Grafana cannot carry (``"``, ``\\``, ``$``) are refused.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigilante.cli import main
from vigilante.config import load_config
from vigilante.escaping import GRAFANA_UNSAFE, label_value
from vigilante.generate import render_all, targets
from scripts.harness import AMTOOL, find_binary
from scripts.harness.prometheus import promtool
from tests.hypothesis_profile import REPRODUCIBLE

RULES = ("rules/generated/vigilante-recording.rules.yml", "rules/generated/vigilante-alerts.rules.yml")
ALERTMANAGER = "rules/generated/alertmanager.yml"
DECOY = "decoy-job"

FRAGMENTS = ['x', 'shop', '"', '\\', '\\d', '{{', '}}', '{{ $labels.job }}', ', job=~".+', '"}', '$1', '${job}',
             "'", '`', '\t', ' ', 'é', '😀', '|', '.*', '=', '!~', '#', ':', '%s', '\u2028']
hostile = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join)
job_names = hostile.filter(lambda v: not any(c in v for c in GRAFANA_UNSAFE) and v.strip() and v != DECOY)


def write_config(path, app_job, scorer_job, service, team):
    path.write_text(yaml.safe_dump({"app": {"job": app_job, "service": service, "team": team},
                                    "scorer": {"job": scorer_job}}, allow_unicode=True), encoding="utf-8")


def rules_test(app_job: str, scorer_job: str, service: str, team: str) -> dict:
    def raw(job: str) -> str:
        return ("flask_http_request_duration_seconds_count{namespace=\"tickets\", job=" + label_value(job)
                + ', method="GET", status="200", url_rule="/"}')

    def decision(job: str) -> str:
        return "vigilante_anomaly_decision{job=" + label_value(job) + ', instance="scorer:9110"}'

    alert = ('ALERTS{alertname="VigilanteAnomalyDetected", alertstate="firing", instance="scorer:9110", '
             f'job={label_value(scorer_job)}, namespace="tickets", severity="warning", '
             f'service={label_value(service)}, team={label_value(team)}}}')
    return {
        "rule_files": [path.rsplit("/", 1)[1] for path in RULES],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": raw(app_job), "values": "0+60x10"},  # 1 request a second
                {"series": raw(DECOY), "values": "0+600x10"},  # 10 a second, in another job
                {"series": decision(scorer_job), "values": "1x10"},
                {"series": decision(DECOY), "values": "1x10"},
            ],
            "promql_expr_test": [
                {"expr": "namespace_job:flask_http_requests:rate1m", "eval_time": "5m",
                 "exp_samples": [{"labels": "namespace_job:flask_http_requests:rate1m{namespace=\"tickets\", job="
                                  + label_value(app_job) + "}", "value": 1}]},
                {"expr": 'ALERTS{alertname="VigilanteAnomalyDetected"}', "eval_time": "5m",
                 "exp_samples": [{"labels": alert, "value": 1}]},
            ],
        }],
    }


@settings(REPRODUCIBLE, max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(app_job=job_names, scorer_job=job_names, service=hostile, team=hostile)
def test_hostile_names_select_exactly_the_configured_job(tmp_path, app_job, scorer_job, service, team):
    if app_job == scorer_job:
        scorer_job += "-scorer"
    config_path = tmp_path / "vigilante.yaml"
    write_config(config_path, app_job, scorer_job, service, team)
    config = load_config(config_path, env={})
    assert (config.app.job, config.scorer.job, config.app.service) == (app_job, scorer_job, service)
    rendered = render_all(config, [t for t in targets() if t.path in (*RULES, ALERTMANAGER)])
    for path, text in rendered.items():
        (tmp_path / path.rsplit("/", 1)[1]).write_text(text, encoding="utf-8")
    checked = promtool("check", "rules", *(p.rsplit("/", 1)[1] for p in RULES), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    test_file = tmp_path / "hostile.test.yml"
    test_file.write_text(yaml.safe_dump(rules_test(app_job, scorer_job, service, team), allow_unicode=True),
                         encoding="utf-8")
    tested = promtool("test", "rules", test_file.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    amtool = subprocess.run([find_binary(AMTOOL), "check-config", "alertmanager.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert amtool.returncode == 0, amtool.stdout + amtool.stderr


@pytest.mark.parametrize("key", ["app.job", "scorer.job"])
@pytest.mark.parametrize("value", ['x", job=~".+', "C:\\shop", "shop-$1"])
def test_a_job_grafana_cannot_carry_is_refused_in_one_line(tmp_path, capsys, key, value):
    section, name = key.split(".")
    config_path = tmp_path / "vigilante.yaml"
    config_path.write_text(yaml.safe_dump({section: {name: value}}), encoding="utf-8")
    assert main(["config", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"vigilante.yaml:2: {key}:" in err and "unescaped" in err, err


def test_a_regex_with_backslashes_reaches_promql_intact(tmp_path):
    config_path = tmp_path / "vigilante.yaml"
    config_path.write_text('alerting:\n  hpa_regex: "shop-\\\\d+"\n  container_regex: "app|web\\\\b"\n')
    config = load_config(config_path, env={})
    assert config.alerting.hpa_regex == "shop-\\d+"
    (path,) = [t for t in targets() if t.path == RULES[1]]
    (tmp_path / "alerts.yml").write_text(render_all(config, [path])[RULES[1]])
    checked = promtool("check", "rules", "alerts.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert 'horizontalpodautoscaler=~"shop-\\\\d+"' in (tmp_path / "alerts.yml").read_text()
