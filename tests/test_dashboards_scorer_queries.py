"""The anomaly dashboard, the overview's scorer panels and the scorer's alerts, on a real ``vigilante serve``.

A real Prometheus scrapes a series the test controls and the real scorer process, which
reads that series through Prometheus, scores it and exports what it exports; the generated
alerting rules are loaded. Steady values, then a lasting jump: once the anomaly alert
fires, every scorer panel query (expanded as Grafana expands it) and every Grafana scorer
alert query must return what the scorer's own series hold at that moment, with the label
values the scorer really uses.
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from vigilante.attach import metric_names as m
from vigilante.config import load_config
from vigilante.dashboards.interpolation import expand
from vigilante.rules import render
from vigilante.service.metrics import TICK_RESULTS
from scripts.harness import ManagedProcess, PrometheusServer, free_port, static_scrape_config
from tests.grafana_queries import alert_queries, by_label, context, panel_queries, single
from tests.scorer_process import one_feature_config, train

pytestmark = pytest.mark.slow

CONFIG = load_config(env={})
SCRAPE = 1.0
QUERIES = panel_queries(CONFIG)
SCORER_VARIABLES = {"namespace": CONFIG.kubernetes.namespace, "job": CONFIG.scorer.job}
APP_VARIABLES = {"namespace": CONFIG.app.namespace, "job": CONFIG.app.job}
class Source:
    """One gauge, ``synthetic_value``, around 100 until ``jump`` is set."""

    def __init__(self):
        self.jump = False
        self.rng = random.Random(5)
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                level = 3000.0 if source.jump else 100.0
                body = f"synthetic_value {level * (1 + source.rng.gauss(0, 0.02))}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scorer-queries")
    source = Source()
    rules = tmp / "alerts.rules.yml"
    rules.write_text(render.alerting_rules_yaml(CONFIG))
    scorer_port = free_port()
    prometheus = PrometheusServer(tmp / "prometheus", rule_files=[rules], scrape_interval="1s", evaluation_interval="1s",
                                  scrape_configs=[
                                      static_scrape_config("source", [source.target]),
                                      static_scrape_config(CONFIG.scorer.job, [f"127.0.0.1:{scorer_port}"],
                                                           {"namespace": CONFIG.kubernetes.namespace})])
    scorer = None
    try:
        prometheus.start()
        config = one_feature_config(tmp / "scorer.yaml", prometheus.url, tmp / "state",
                                    query='synthetic_value{job="source"}')
        train(config, tmp / "state")
        scorer = ManagedProcess("vigilante serve", [sys.executable, "-m", "vigilante.cli", "serve", "--config",
                                                    str(config), "--port", str(scorer_port)], tmp / "scorer.log").start()
        prometheus.targets_up(2, timeout=60)
        # Enough steady samples for the rate windows, then the jump, held until the alert fires.
        prometheus.wait_for(f'count_over_time({m.SAMPLES_LEARNED}{{job="{CONFIG.scorer.job}"}}[1m])',
                            lambda r: r and single(r) >= 12, 60, what="12 scrapes of a learning scorer")
        source.jump = True
        prometheus.wait_for('ALERTS{alertname="VigilanteAnomalyDetected", alertstate="firing"}', bool, 60)
        prometheus.wait_for(f'min_over_time({m.DECISION}{{job="{CONFIG.scorer.job}"}}[4s])',
                            lambda r: r and single(r) == 1, 30, what="a few scrapes of decision 1")
        # The scorer's alert group evaluates every scorer_interval_seconds (5 s), not every
        # second: the moment looked at is never before the firing alert's first sample.
        fired = single(prometheus.query('timestamp(ALERTS{alertname="VigilanteAnomalyDetected", alertstate="firing"})'))
        yield {"prometheus": prometheus, "at": max(time.time() - SCRAPE, fired), "scorer": scorer}
    finally:
        if scorer:
            scorer.stop()
        prometheus.stop()
        source.server.shutdown()


ALERTS_CHECKED = {"VigilanteAnomalyDetected", "VigilanteScorerAbsent", "VigilanteScorerStale", "VigilanteScorerNotWarm"}


def run(live, key, variables=SCORER_VARIABLES):
    """One panel query, as Grafana expands it, at the test's moment (every key a test passes here, written
    out, counts as proven: tests/grafana_queries.keys_evaluated)."""
    q = QUERIES[key]
    at = live["at"]
    return live["prometheus"].query(expand(q.expr, context(q, at - 300, at, SCRAPE, variables)), at)


def raw(live, name, by=None):
    """What the scorer exported, as Prometheus scraped it, at the test's moment."""
    result = live["prometheus"].query(f'{name}{{job="{CONFIG.scorer.job}"}}', live["at"])
    return by_label(result, by) if by else single(result)


def test_the_anomaly_panels_show_what_the_scorer_exports(live):
    r = lambda title, ref="A": run(live, ("anomaly", title, ref))  # noqa: E731
    assert single(r("Anomaly score and threshold")) == raw(live, m.SCORE)
    assert single(r("Anomaly score and threshold", "B")) == raw(live, m.THRESHOLD)
    assert raw(live, m.SCORE) > raw(live, m.THRESHOLD)
    assert single(r("Decision")) == raw(live, m.DECISION) == 1
    assert by_label(r("Features the scorer sees"), "feature") == raw(live, m.FEATURE_VALUE, "feature")
    assert by_label(r("Which feature drives the score"), "feature") == {"value": 1.0}
    assert single(r("Model warm")) == 1
    assert single(r("Rows learned")) == raw(live, m.SAMPLES_LEARNED) > 0
    assert single(r("Learning per minute")) >= 0
    # The reasons are the scorer's own label values: while anomalous it learns nothing.
    skipped = by_label(r("Learning per minute", "B"), "reason")
    assert set(skipped) == set(raw(live, m.LEARN_SKIPPED, "reason")) and skipped["anomalous"] > 0
    assert 0 <= single(r("Since last successful tick")) < 5
    ticks = by_label(r("Ticks per minute by result"), "result")
    assert set(ticks) <= set(TICK_RESULTS) and ticks["scored"] == pytest.approx(60, rel=0.35)
    assert single(r("Prometheus query errors per minute")) == 0
    for ref in "AB":
        p95 = single(r("Query and tick duration (p95)", ref))
        assert math.isfinite(p95) and 0 < p95 < 1
    assert single(run(live, ("anomaly", "annotation: Anomaly decisions", "A"))) == 1
    alerts = {x["metric"]["alertname"] for x in run(live, ("anomaly", "annotation: Vigilante alerts", "A"))}
    assert "VigilanteAnomalyDetected" in alerts


def test_the_overview_scorer_panels_show_what_the_scorer_exports(live):
    r = lambda title, ref="A": run(live, ("overview", title, ref), APP_VARIABLES)  # noqa: E731
    assert [single(r("Anomaly score, threshold and decision", ref)) for ref in "ABC"] == \
        [raw(live, m.SCORE), raw(live, m.THRESHOLD), 1]
    assert 0 <= single(r("Scorer health")) < 5


def test_the_grafana_scorer_alerts_fire_exactly_where_the_scorer_says(live):
    queries, prometheus, at = alert_queries(CONFIG), live["prometheus"], live["at"]
    indicator = prometheus.query(queries[("VigilanteAnomalyDetected", "A")], at)
    value = prometheus.query(queries[("VigilanteAnomalyDetected", "V")], at)
    assert [single([x]) for x in indicator] == [1.0] and single(value) == 1.0
    assert indicator[0]["metric"] == value[0]["metric"]
    for quiet in ALERTS_CHECKED - {"VigilanteAnomalyDetected"}:
        assert prometheus.query(queries[(quiet, "A")], at) == [], quiet


def test_the_anomaly_dashboards_variables_list_the_scorer(live):
    import json

    from vigilante import dashboards

    variables = {v["name"]: v for v in json.loads(dashboards.dashboard_json(CONFIG, "anomaly"))["templating"]["list"]}
    url = live["prometheus"].url
    assert variables["namespace"]["query"] == f"label_values({m.SCORE}, namespace)"
    ns = requests.get(f"{url}/api/v1/label/namespace/values", params={"match[]": m.SCORE}, timeout=10).json()["data"]
    assert ns == [CONFIG.kubernetes.namespace]
    jobs = requests.get(f"{url}/api/v1/label/job/values",
                        params={"match[]": f'{m.SCORE}{{namespace="{CONFIG.kubernetes.namespace}"}}'}, timeout=10).json()
    assert jobs["data"] == [CONFIG.scorer.job]


def test_the_scorer_answers_its_own_endpoints(live):
    scorer = live["scorer"]
    assert scorer.alive() and "Traceback" not in scorer.log_path.read_text()
    port = scorer.argv[scorer.argv.index("--port") + 1]
    assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
