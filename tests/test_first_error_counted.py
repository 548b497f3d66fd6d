"""A route's first server error reaches ``rate()``: through gunicorn, a real Prometheus and the rules.

prometheus-flask-exporter's labels make a ``status="500"`` series at a route's first 500.
Prometheus's ``rate()`` and ``increase()`` read the increase between samples, so a series whose
first sample is already 1 adds nothing: until ``instrument()`` made those series at 0, the first
error of every route went unseen. A 1 % error burst over several routes (the recorded stack
run's) showed one error in its minute instead of four or five. Each of eight routes here serves
a request, is scraped, then fails once.
"""

from __future__ import annotations

import pytest
import requests

from scripts.harness import GunicornServer, PrometheusServer, static_scrape_config
from tests.fixtures.shelves_app import SHELVES
from tests.grafana_queries import single
from vigilante.config import load_config
from vigilante.rules.recording import RecordedSeries
from vigilante.rules.render import recording_rules_yaml

pytestmark = pytest.mark.slow

COUNT = "flask_http_request_duration_seconds_count"
SCRAPES_BEFORE_ERRORS = 12


def test_the_first_500_of_every_route_is_in_the_error_rate(tmp_path):
    config = load_config(env={})
    rules = tmp_path / "recording.yml"
    rules.write_text(recording_rules_yaml(config))
    app = GunicornServer(tmp_path / "app", app="tests.fixtures.shelves_app:create_app()", workers=1, threads=4,
                         env={"VIGILANTE_CONFIG": ""}).start()
    prometheus = None
    try:
        prometheus = PrometheusServer(
            tmp_path / "prometheus", rule_files=[rules], scrape_interval="1s", evaluation_interval="1s",
            scrape_configs=[static_scrape_config(config.app.job, [app.url.split("://")[1]],
                                                 {"namespace": config.app.namespace})]).start()
        with requests.Session() as http:
            for path in SHELVES:
                assert http.get(app.url + path, timeout=5).status_code == 200
            # A dozen scrapes first: rate() extrapolates a series seen for only a second or two up to
            # twice its increase, and here every series is that young.
            prometheus.wait_for(f'count_over_time({COUNT}{{status="200"}}[1m]) >= {SCRAPES_BEFORE_ERRORS}',
                                lambda r: len(r) == len(SHELVES), 60,
                                what=f"{SCRAPES_BEFORE_ERRORS} scrapes after every route's first request")
            for path in SHELVES:
                assert http.get(app.url + path, params={"fail": "1"}, timeout=5).status_code == 500
        prometheus.wait_for(f'sum({COUNT}{{status="500"}})', lambda r: r and single(r) == len(SHELVES), 30,
                            what="a scrape after every route's error")
        # Two more scrapes and a rule evaluation after it, whatever scrape saw the last error.
        seen = float(prometheus.query(f'max(timestamp({COUNT}{{status="500"}}))')[0]["value"][1])
        names = RecordedSeries(config)
        errors = names.errors("1m") + names.selector()
        prometheus.wait_for(f"timestamp({errors})", lambda r: r and float(r[0]["value"][1]) >= seen + 2, 30,
                            what="the error rate evaluated after the errors")
        increase = single(prometheus.query(f'sum(increase({COUNT}{{status="500"}}[30s]))'))
        # increase() extrapolates to the window's ends: a little over 8. It read 0 before the fix.
        assert len(SHELVES) - 0.5 <= increase <= len(SHELVES) * 1.3
        peak = single(prometheus.query(f"max_over_time({errors}[30s])")) * 60  # errors in the 1m window
        assert len(SHELVES) - 0.5 <= peak <= len(SHELVES) * 1.3
    finally:
        if prometheus:
            prometheus.stop()
        app.stop()
