"""The ticket app under real gunicorn, in both modes, scraped by a real Prometheus: counts add up exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import requests

from app_under_test.testing import FAST_PASSWORD_HASH, seeded_app
from scripts.harness import static_scrape_config

MODES = {
    # One process, several threads: the plain registry.
    "threads": {"workers": 1, "threads": 4, "multiprocess": False},
    # Several processes: PROMETHEUS_MULTIPROC_DIR and the add-on's gunicorn hooks.
    "processes": {"workers": 3, "threads": 1, "multiprocess": True},
}

# (path, expected url_rule, expected status): what the traffic below sends, and how often.
TRAFFIC = [
    ("/", "/", "200", 7),
    ("/events/2", "/events/<int:event_id>", "200", 5),
    ("/events/99999", "/events/<int:event_id>", "404", 3),
    ("/organizers/1", "/organizers/<int:organizer_id>", "200", 2),
    ("/api/events?limit=3", "/api/events", "200", 4),
    ("/static/style.css", "/static/<path:filename>", "200", 2),
    ("/no/such/page", "unmatched", "404", 1),
]


def start_app(tmp_path: Path, gunicorn_factory, mode: str):
    spec = MODES[mode]
    instance = tmp_path / "instance"
    seeded_app(instance)  # schema and demo data, written before the server starts
    env = {"TICKETS_INSTANCE_PATH": str(instance), "TICKETS_PASSWORD_HASH_METHOD": f'"{FAST_PASSWORD_HASH}"'}
    config_file = None
    if spec["multiprocess"]:
        multiproc = tmp_path / "multiproc"
        multiproc.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        config_file = tmp_path / "gunicorn.conf.py"
        config_file.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    return gunicorn_factory(app="app_under_test:create_app()", workers=spec["workers"], threads=spec["threads"],
                            env=env, config_file=config_file)


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_request_counts_and_labels_add_up_in_prometheus(tmp_path, gunicorn_factory, prometheus_factory, mode):
    server = start_app(tmp_path, gunicorn_factory, mode)
    target = server.url.split("://", 1)[1]
    prometheus = prometheus_factory(scrape_configs=[static_scrape_config("tickets", [target], {"namespace": "test"})])
    prometheus.targets_up(1)

    expected: Counter = Counter()
    with requests.Session() as http:
        for path, rule, status, times in TRAFFIC:
            for _ in range(times):
                response = http.get(f"{server.url}{path}", timeout=10)
                assert str(response.status_code) == status, (path, response.status_code)
            expected[(rule, status)] += times
        for _ in range(10):  # probes are not measured
            assert http.get(f"{server.url}/healthz", timeout=10).status_code == 200
            assert http.get(f"{server.url}/readyz", timeout=10).status_code == 200

    def by_route(result):
        return Counter({(r["metric"]["url_rule"], r["metric"]["status"]): float(r["value"][1]) for r in result})

    result = prometheus.wait_for(
        'sum by (url_rule, status) (flask_http_request_duration_seconds_count{job="tickets", method="GET"})',
        lambda r: by_route(r) == expected, timeout=30, what=f"the per-route counts to equal {dict(expected)}")
    assert by_route(result) == expected
    total = prometheus.query('sum(flask_http_request_total{job="tickets"})')
    assert float(total[0]["value"][1]) == sum(expected.values())
    assert prometheus.query('flask_http_request_duration_seconds_count{url_rule=~"/metrics|/healthz|/readyz"}') == []
    sold = prometheus.query('tickets_sold_total{job="tickets"}')
    assert sold and float(sold[0]["value"][1]) == 0
    app_info = prometheus.query('flask_app_info{job="tickets"}')
    assert app_info and app_info[0]["metric"]["version"] and float(app_info[0]["value"][1]) == 1
