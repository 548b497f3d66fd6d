"""The generated rules loaded into a real Prometheus scraping real apps under known traffic.

One run (about 90 s) serves every test here: the default configuration's app gets 20 req/s
for 70 s in a fixed pattern (10 % 500, 5 % 404, 15 % slow), and a second app with a
non-default configuration (prefix ``shop``, route label ``endpoint``) gets some traffic too.
The recorded series must agree with what the client sent and saw.
"""

from __future__ import annotations

import concurrent.futures
import math

import pytest

from vigilante.config import load_config
from vigilante.rules.recording import RecordedSeries, feature_queries
from vigilante.rules.render import alerting_rules_yaml, recording_rules_yaml
from scripts.harness import GunicornServer, PrometheusServer, static_scrape_config
from tests.traffic import Sent, paced_traffic

pytestmark = pytest.mark.slow

RATE = 20  # requests per second
DURATION = 70  # seconds: more than the 1m window
PATTERN = ["/items/1", "/items/2", "/items/3", "/missing", "/items/4", "/slow", "/items/5", "/items/6", "/items/7",
           "/items/8", "/fail", "/items/9", "/slow", "/items/10", "/items/11", "/items/12", "/items/13", "/slow",
           "/items/14", "/fail"]  # per 20 requests: 2 x 500 (10 %), 1 x 404 (5 %), 3 slow (15 %)
SHOP_CONFIG = "app:\n  metric_prefix: shop\n  route_label: endpoint\n  job: shop-web\n  namespace: shop\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("rules-prometheus")
    default = load_config(env={})
    shop_path = work / "shop.yaml"
    shop_path.write_text(SHOP_CONFIG)
    shop = load_config(shop_path, env={})
    rule_files = []
    for name, text in [("default-recording.yml", recording_rules_yaml(default)),
                       ("default-alerts.yml", alerting_rules_yaml(default)),
                       ("shop-recording.yml", recording_rules_yaml(shop))]:
        (work / name).write_text(text)
        rule_files.append(work / name)
    app = GunicornServer(work / "app", app="tests.fixtures.known_traffic_app:create_app()", workers=1, threads=8,
                         env={"VIGILANTE_CONFIG": ""}).start()
    shop_app = GunicornServer(work / "shop", app="tests.fixtures.known_traffic_app:create_app()", workers=1,
                              threads=4, env={"VIGILANTE_CONFIG": str(shop_path)}).start()
    prometheus = None
    try:
        host = app.url.split("://")[1]
        shop_host = shop_app.url.split("://")[1]
        prometheus = PrometheusServer(
            work / "prometheus",
            scrape_configs=[
                static_scrape_config(default.app.job, [host], {"namespace": default.app.namespace, "pod": "app-0"}),
                static_scrape_config(shop.app.job, [shop_host], {"namespace": shop.app.namespace, "pod": "shop-0"}),
            ],
            rule_files=rule_files, scrape_interval="1s", evaluation_interval="1s",
        ).start()
        prometheus.targets_up(2)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as side:
            shop_sent = side.submit(paced_traffic, shop_app.url, 5, 20, ["/items/1", "/items/2", "/fail", "/missing"])
            sent = paced_traffic(app.url, RATE, DURATION, PATTERN)
            shop_sent.result()
        # The tests read the rules 65 s into the traffic: wait until an evaluation has passed that point.
        checked_at = sent[0].done + 65
        prometheus.wait_for("max(timestamp(namespace_job:flask_http_requests:rate1m))",
                            lambda r: bool(r) and float(r[0]["value"][1]) >= checked_at, 20)
        yield {"prometheus": prometheus, "sent": sent, "default": default, "shop": shop}
    finally:
        if prometheus:
            prometheus.stop()
        shop_app.stop()
        app.stop()


def sample_in_traffic(stack, expr: str) -> tuple[float, float]:
    """(timestamp, value) of the one series ``expr`` returns, evaluated 65 s into the traffic."""
    sent = stack["sent"]
    at = sent[0].done + 65
    result = stack["prometheus"].query(f"timestamp({expr})", at)
    value = stack["prometheus"].query(expr, at)
    assert len(result) == 1 and len(value) == 1, (expr, value)
    return float(result[0]["value"][1]), float(value[0]["value"][1])


def sent_in_window(stack, end: float, seconds: float = 60) -> list[Sent]:
    return [s for s in stack["sent"] if end - seconds < s.done <= end]


def test_request_rate_matches_what_was_sent(stack):
    names = RecordedSeries(stack["default"])
    ts, value = sample_in_traffic(stack, names.requests("1m") + names.selector())
    expected = len(sent_in_window(stack, ts)) / 60
    assert expected == pytest.approx(RATE, rel=0.1)
    # rate() extrapolates to the window's edges from 1 s scrapes: allow two scrapes' worth.
    assert value == pytest.approx(expected, rel=2 / 60 + 0.02)


def test_error_ratio_is_the_injected_share_of_5xx_and_404_is_not_an_error(stack):
    names = RecordedSeries(stack["default"])
    ts, ratio = sample_in_traffic(stack, names.error_ratio("1m") + names.selector())
    window = sent_in_window(stack, ts)
    sent_ratio = sum(s.status >= 500 for s in window) / len(window)
    assert sent_ratio == pytest.approx(0.10, abs=0.01)
    assert ratio == pytest.approx(sent_ratio, abs=0.015)
    _, client_errors = sample_in_traffic(stack, names.client_errors("1m") + names.selector())
    assert client_errors == pytest.approx(sum(s.status == 404 for s in window) / 60, rel=0.1)


def test_p95_falls_in_the_bucket_where_the_apps_own_counts_cross_95_percent(stack):
    # The bucket is found from the app's raw bucket counters, walked here by hand, not from
    # client-side timings, which a loaded machine stretches across a bucket boundary.
    config = stack["default"]
    names = RecordedSeries(config)
    ts, p95 = sample_in_traffic(stack, names.latency(0.95, "1m") + names.selector())
    counts = {float(r["metric"]["le"]): float(r["value"][1]) for r in stack["prometheus"].query(
        f"sum by (le) (increase({names.raw_bucket()}{names.selector()}[1m]))", ts)}
    bounds = sorted(counts)
    total = counts[math.inf]
    high = next(b for b in bounds if counts[b] >= 0.95 * total)
    low = max([b for b in bounds if b < high], default=0.0)
    assert total > 0.9 * RATE * 60 and low < p95 <= high, (p95, (low, high), counts)


def test_every_default_scorer_feature_query_returns_one_series(stack):
    at = stack["sent"][0].done + 65
    for feature, query in feature_queries(stack["default"]).items():
        assert len(stack["prometheus"].query(query, at)) == 1, feature


def test_per_route_series_use_the_url_rule_label(stack):
    at = stack["sent"][0].done + 65
    result = stack["prometheus"].query("namespace_job_url_rule:flask_http_requests:rate5m", at)
    routes = {r["metric"]["url_rule"] for r in result}
    assert {"/items/<int:item_id>", "/slow", "/fail"} <= routes
    assert "/metrics" not in routes and "/healthz" not in routes


def test_rules_generated_for_the_second_app_select_its_metrics_and_return_data(stack):
    shop = RecordedSeries(stack["shop"])
    prometheus = stack["prometheus"]
    at = stack["sent"][0].done + 15
    result = prometheus.query(shop.requests("1m") + shop.selector(), at)
    assert len(result) == 1 and float(result[0]["value"][1]) > 0
    routes = {r["metric"]["endpoint"] for r in prometheus.query(shop.requests("5m", by_route=True), at)}
    assert {"item", "fail"} <= routes
    ratio = prometheus.query(shop.error_ratio("1m") + shop.selector(), at)
    assert 0 < float(ratio[0]["value"][1]) < 1
    # ...and the default app's rules did not pick the second app up.
    assert prometheus.query('namespace_job:flask_http_requests:rate1m{job="shop-web"}', at) == []


def test_alert_rules_evaluate_on_the_real_server(stack):
    alerts = {r["metric"]["alertname"] for r in stack["prometheus"].query("ALERTS")}
    assert "VigilanteScorerAbsent" in alerts  # no scorer in this stack
    assert not alerts & {"VigilanteAppDown", "VigilanteAppAbsent", "VigilanteAppTargetDown"}
