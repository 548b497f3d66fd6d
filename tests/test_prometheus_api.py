"""The Prometheus query client against the real Prometheus: results, typed errors, retries;
and against servers that answer too slowly or too much: a deadline, a size cap, cancelling."""

from __future__ import annotations

import threading
import time

import pytest

from vigilante.prometheus.api import PrometheusAPI, PrometheusQueryError, PrometheusUnavailable
from scripts.harness import free_port
from scripts.harness.process import wait_until
from tests.fixtures.fake_prometheus import FakePrometheus, SlowPrometheus, drip, flood, vector


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


def test_a_url_with_a_path_is_asked_under_that_path():
    # A Prometheus served under a prefix (--web.route-prefix, or behind a path-routing proxy).
    with FakePrometheus(lambda params: vector({"up": 1.0}, 1000.0)) as fake:
        assert PrometheusAPI(f"{fake.url}/prometheus/").vector("up")
    assert fake.targets == ["/prometheus/api/v1/query"]


def test_a_proxy_named_by_the_environment_is_asked_for_the_whole_url(monkeypatch):
    with FakePrometheus(lambda params: vector({"up": 1.0}, 1000.0)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        for name in ("http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        # The name never resolves: only the proxy can answer it.
        assert PrometheusAPI("http://prometheus.invalid:9090/p").vector("up")
    assert proxy.targets == ["http://prometheus.invalid:9090/p/api/v1/query"]


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


# A bound that only guards against hanging: the deadline is a second, the drip would go on for minutes.
HANG_GUARD_SECONDS = 10


@pytest.mark.parametrize("headers", [True, False], ids=["body drips", "headers drip"])
def test_an_answer_drip_fed_byte_by_byte_is_abandoned_at_the_deadline(headers):
    with SlowPrometheus(drip(0.2, max_bytes=600, headers=headers)) as fake:
        api = PrometheusAPI(fake.url, timeout=1.0, retries=2, backoff=0.1)
        started = time.monotonic()
        with pytest.raises(PrometheusUnavailable, match="no complete answer within 1 s"):
            api.query("up")
        assert time.monotonic() - started < HANG_GUARD_SECONDS
        assert fake.sent < 600  # it did not read the drip to its end


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "declared in Content-Length"])
def test_an_answer_larger_than_the_cap_is_refused_without_reading_it_all(declared):
    total = 64 * 2**20
    with SlowPrometheus(flood(total, declare_length=declared)) as fake:
        api = PrometheusAPI(fake.url, timeout=30, retries=0, max_answer_bytes=2**20)
        with pytest.raises(PrometheusUnavailable, match="larger than the 1 MiB cap"):
            api.query("up")
    assert fake.sent < total / 4


def test_range_answers_have_their_own_larger_cap():
    with SlowPrometheus(flood(3 * 2**20)) as fake:
        api = PrometheusAPI(fake.url, timeout=30, retries=0, max_answer_bytes=2**20, max_range_answer_bytes=2**20)
        with pytest.raises(PrometheusUnavailable, match="cap"):
            api.query_range("up", 0, 60, 15)
    with SlowPrometheus(flood(3 * 2**20)) as fake:
        api = PrometheusAPI(fake.url, timeout=30, retries=0, max_answer_bytes=2**20, max_range_answer_bytes=2**23)
        with pytest.raises(PrometheusUnavailable, match="not JSON"):
            api.query_range("up", 0, 60, 15)  # read whole (and found unfinished), not capped


def test_cancelling_abandons_a_request_in_flight_and_refuses_new_ones():
    cancel = threading.Event()
    with SlowPrometheus(drip(0.2, max_bytes=600)) as fake:
        api = PrometheusAPI(fake.url, timeout=60, retries=2, cancel=cancel)
        errors: list[Exception] = []

        def ask() -> None:
            try:
                api.query("up")
            except PrometheusUnavailable as exc:
                errors.append(exc)

        asking = threading.Thread(target=ask)
        asking.start()
        wait_until(lambda: fake.sent > 0, HANG_GUARD_SECONDS, "the drip to start")
        cancel.set()
        asking.join(HANG_GUARD_SECONDS)
        assert not asking.is_alive(), "the request went on after it was cancelled"
        assert len(errors) == 1 and "stopping" in str(errors[0])
        requests_before = fake.requests
        with pytest.raises(PrometheusUnavailable, match="stopping"):
            api.query("up")
        assert fake.requests == requests_before
