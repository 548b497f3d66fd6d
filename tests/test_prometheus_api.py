"""The Prometheus query client against the real Prometheus: results, typed errors, retries."""

from __future__ import annotations

import time

import pytest

from vigilante.prometheus_api import PrometheusAPI, PrometheusQueryError, PrometheusUnavailable
from scripts.harness import free_port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    from scripts.harness import PrometheusServer

    # Prometheus scrapes itself, so `up` and its own metrics have data without an app.
    server = PrometheusServer(tmp_path_factory.mktemp("prom"))
    server.config["scrape_configs"] = [{"job_name": "self", "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}]}]
    server.start()
    server.wait_for('up{job="self"} == 1', timeout=30)
    yield server
    server.stop()


def test_instant_vector_and_scalar_queries(prometheus):
    api = PrometheusAPI(prometheus.url)

    assert api.query('up{job="self"}')[0]["metric"]["job"] == "self"
    assert api.scalar('up{job="self"}') == 1.0
    assert api.scalar("vector(2) * 3") == 6.0
    assert api.scalar('up{job="absent"}') is None
    assert api.query("scalar(vector(4))")[0]["value"][1] == "4"


def test_range_query_and_its_cost(prometheus):
    api = PrometheusAPI(prometheus.url)
    prometheus.wait_for('count_over_time(up{job="self"}[1m]) >= 3', timeout=30)
    end = time.time()

    series = api.query_range('up{job="self"}', end - 60, end, 1)
    stats = api.query_stats('up{job="self"}', end - 60, end, 1)

    assert len(series) == 1 and len(series[0]["values"]) >= 3
    assert stats.total_queryable_samples >= 3


def test_a_bad_query_is_a_query_error_and_is_not_retried(prometheus):
    api = PrometheusAPI(prometheus.url, retries=5, backoff=10)

    started = time.monotonic()
    with pytest.raises(PrometheusQueryError, match="bad_data"):
        api.query("sum(up")
    assert time.monotonic() - started < 5  # five retries with a 10 s backoff would take minutes


def test_more_than_one_series_for_a_scalar_is_an_error(prometheus):
    with pytest.raises(PrometheusQueryError, match="at most one series"):
        PrometheusAPI(prometheus.url).scalar('label_replace(up, "x", "1", "", "") or label_replace(up, "x", "2", "", "")')


def test_an_unreachable_server_is_unavailable_after_the_retries():
    attempts = []
    # Nothing listens on a free port: the connection is really refused.
    api = PrometheusAPI(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0)
    real_get_once = api._get_once
    api._get_once = lambda *args: attempts.append(args[0]) or real_get_once(*args)

    with pytest.raises(PrometheusUnavailable, match="MaxRetryError|NewConnectionError"):
        api.query("up")
    assert len(attempts) == 3
    assert api.ready() is False
