"""Recording rules: names, selectors and PromQL conventions, and their promtool unit tests."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
import yaml

import vigilante.rules.panels
import vigilante.rules.recording
import vigilante.rules.slo
from vigilante.config import DEFAULT_FEATURES, load_config
from vigilante.rules.recording import RecordedSeries, feature_queries, recording_groups
from vigilante.rules.render import recording_rules_yaml
from scripts.harness import promtool

from tests.support import REPO_ROOT as REPO
RULE_TESTS = REPO / "rules" / "tests"
RECORDING_TESTS = ["flask_http_requests.test.yml", "flask_http_request_errors_slo.test.yml"]

LEVEL_METRIC_OPERATIONS = re.compile(r"[a-z_]+:[a-z_]+:[a-z0-9_]+")


def all_rules(config):
    return [rule for group in recording_groups(config) for rule in group.rules]


@pytest.fixture
def second_app_config(tmp_path):
    """The instrumentation issue's second app: prefix shop, route label endpoint, own job and namespace."""
    path = tmp_path / "shop.yaml"
    path.write_text("app:\n  metric_prefix: shop\n  route_label: endpoint\n  job: shop-web\n  namespace: shop\n")
    return load_config(path, env={})


@pytest.mark.parametrize("module", [vigilante.rules.recording, vigilante.rules.slo, vigilante.rules.panels])
def test_docstring_examples_run(module):
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("test_file", RECORDING_TESTS)
def test_promtool_unit_tests_pass(test_file):
    run = promtool("test", "rules", str(RULE_TESTS / test_file))
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_recorded_series_is_checked_by_a_promtool_test():
    # A series counts as tested when a promql_expr_test evaluates it and states its samples
    # (a comment or an input series naming it does not count).
    evaluated = set()
    for path in RULE_TESTS.glob("*.test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("promql_expr_test", []):
                if "exp_samples" in check:
                    evaluated |= set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", check["expr"]))
    untested = [r.record for r in all_rules(load_config(env={})) if r.record not in evaluated]
    assert untested == []


def test_names_are_level_metric_operations_and_unique():
    records = [r.record for r in all_rules(load_config(env={}))]
    assert len(records) == len(set(records))
    for record in records:
        assert LEVEL_METRIC_OPERATIONS.fullmatch(record), record
        level = record.split(":")[0]
        assert level.startswith("namespace_job"), record


def test_raw_series_are_selected_by_namespace_and_job_and_by_explicit_metric_name():
    config = load_config(env={})
    raw = re.compile(r"\b(flask_[a-z_]+)\{([^}]*)\}")
    for rule in all_rules(config):
        for name, matchers in raw.findall(rule.expr):
            assert name.endswith(("_count", "_bucket", "_sum")), (rule.record, name)
            assert 'namespace="tickets"' in matchers and 'job="ticket-app"' in matchers, rule.record
        assert "_created" not in rule.expr


def test_aggregations_keep_namespace_and_job_and_quantiles_sum_by_le():
    for rule in all_rules(load_config(env={})):
        for by in re.findall(r"sum by \(([^)]*)\)", rule.expr):
            labels = [label.strip() for label in by.split(",")]
            assert {"namespace", "job"} <= set(labels), rule.record
        if "histogram_quantile" in rule.expr:
            bucket_rate = re.search(r"histogram_quantile\([0-9.]+, ([a-z0-9_:]+)", rule.expr).group(1)
            source = next(r for r in all_rules(load_config(env={})) if r.record == bucket_rate)
            assert source.expr.startswith("sum by (le, namespace, job")
            assert "rate(flask_http_request_duration_seconds_bucket{" in source.expr


def test_errors_are_5xx_and_client_errors_4xx():
    config = load_config(env={})
    names = RecordedSeries(config)
    exprs = {r.record: r.expr for r in all_rules(config)}
    assert 'status=~"5.."' in exprs[names.errors("1m")]
    assert 'status=~"4.."' in exprs[names.client_errors("1m")]
    assert "!=" not in exprs[names.errors("1m")]  # the original's status!="200" counted redirects


def test_ratios_divide_recorded_sums_never_average_ratios():
    for rule in all_rules(load_config(env={})):
        assert "avg_over_time(" not in rule.expr or ":ratio_" not in rule.expr.split("avg_over_time(")[1], rule.record
        if ":ratio_rate" in rule.record:
            assert "/\n(" in rule.expr and "> 0)" in rule.expr, rule.record


def test_every_burn_rate_window_has_an_error_ratio():
    config = load_config(env={})
    names = RecordedSeries(config)
    records = {r.record for r in all_rules(config)}
    for window in vigilante.rules.slo.ratio_windows():
        assert names.error_ratio(window) in records


def test_feature_queries_cover_the_default_scorer_features_over_recorded_1m_series():
    config = load_config(env={})
    queries = feature_queries(config)
    assert set(DEFAULT_FEATURES) <= set(queries)
    records = {r.record for r in all_rules(config)}
    for feature, query in queries.items():
        name, _, selector = query.partition("{")
        assert name in records, feature
        assert name.endswith("1m"), feature
        assert selector == 'namespace="tickets", job="ticket-app"}'


def test_a_second_app_configuration_renames_and_reselects_everything(second_app_config, tmp_path):
    names = RecordedSeries(second_app_config)
    assert names.requests("1m") == "namespace_job:shop_http_requests:rate1m"
    assert names.requests("5m", by_route=True) == "namespace_job_endpoint:shop_http_requests:rate5m"
    text = recording_rules_yaml(second_app_config)
    assert "flask_" not in text and "ticket-app" not in text
    assert 'shop_http_request_duration_seconds_count{namespace="shop", job="shop-web"}' in text
    assert "sum by (namespace, job, endpoint)" in text
    assert feature_queries(second_app_config)["requests_per_second"] == (
        'namespace_job:shop_http_requests:rate1m{namespace="shop", job="shop-web"}'
    )
    path = tmp_path / "shop.rules.yml"
    path.write_text(text)
    run = promtool("check", "rules", str(path))
    assert run.returncode == 0, run.stdout + run.stderr


def test_rendered_groups_are_valid_yaml_with_one_record_per_rule():
    doc = yaml.safe_load(recording_rules_yaml(load_config(env={})))
    assert [g["name"] for g in doc["groups"]] == [
        "vigilante.flask_http_requests.rules",
        "vigilante.flask_http_requests_by_route.rules",
        "vigilante.flask_http_request_errors_slo.rules",
    ]
    assert all(set(rule) == {"record", "expr"} for g in doc["groups"] for rule in g["rules"])


def test_a_scrape_interval_too_long_for_the_1m_window_is_a_config_error():
    from vigilante.config import ConfigError

    with pytest.raises(ConfigError, match="scrape_interval_seconds: expected .*at most 15"):
        recording_groups(load_config(env={"VIGILANTE_PROMETHEUS__SCRAPE_INTERVAL_SECONDS": "30"}))
