"""The shared test helpers read ``/metrics`` pages and find worker processes correctly."""

from __future__ import annotations

import doctest
import math
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

import tests.support.metrics
import tests.support.workers
from tests.support.metrics import Sample, samples, scrape, total, value
from tests.support.workers import wait_for_workers, worker_pids

PAGE = r'''# HELP shop_request_total Requests.
# TYPE shop_request_total counter
shop_request_total{method="GET",path="/a \"quoted\" \\ path\nnext"} 2.0
shop_request_total{method="POST",path="/"} 3.0
shop_request_created{method="GET",path="/"} 1.7e+09
# HELP shop_latency_seconds Latency.
# TYPE shop_latency_seconds histogram
shop_latency_seconds_bucket{le="0.1"} 1.0
shop_latency_seconds_bucket{le="+Inf"} 4.0
shop_latency_seconds_count 4.0
shop_latency_seconds_sum 2.5
# HELP shop_score Score.
# TYPE shop_score gauge
shop_score NaN
'''


@pytest.mark.parametrize("module", [tests.support.metrics, tests.support.workers])
def test_support_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_samples_keep_full_names_unescaped_labels_and_page_order():
    found = samples(PAGE)
    assert found[0] == Sample("shop_request_total", {"method": "GET", "path": '/a "quoted" \\ path\nnext'}, 2.0)
    assert [s.name for s in found] == ["shop_request_total", "shop_request_total", "shop_request_created",
                                       "shop_latency_seconds_bucket", "shop_latency_seconds_bucket",
                                       "shop_latency_seconds_count", "shop_latency_seconds_sum", "shop_score"]
    assert all(isinstance(s.value, float) for s in found)
    assert math.isnan(found[-1].value)


def test_value_needs_the_exact_label_set():
    assert value(PAGE, "shop_latency_seconds_bucket", le="+Inf") == 4.0
    assert value(PAGE, "shop_latency_seconds_count") == 4.0
    assert value(PAGE, "shop_request_created", method="GET", path="/") == 1.7e9
    assert value(PAGE, "shop_request_total", method="POST") is None  # a subset of the labels is not enough
    assert value(PAGE, "shop_request_total", method="POST", path="/") == 3.0
    assert value(PAGE, "shop_request", method="POST", path="/") is None  # the family name is not a sample name
    assert value(PAGE, "missing") is None


def test_total_sums_every_sample_with_these_labels_and_not_created():
    assert total(PAGE, "shop_request_total") == 5.0
    assert total(PAGE, "shop_request_total", method="GET") == 2.0
    assert total(PAGE, "shop_request_total", method="PUT") == 0.0
    assert total(PAGE, "missing") == 0.0


def test_a_malformed_page_fails_instead_of_reading_as_empty():
    with pytest.raises(ValueError):
        samples("shop_up{job=\"a\" 1\n")


def test_reads_what_prometheus_client_writes():
    registry = CollectorRegistry()
    Counter("app_hits", "Hits.", ["route"], registry=registry).labels("/x").inc(3)
    Histogram("app_seconds", "Seconds.", buckets=(0.5,), registry=registry).observe(0.2)
    text = generate_latest(registry).decode()
    assert value(text, "app_hits_total", route="/x") == 3.0
    assert value(text, "app_seconds_bucket", le="0.5") == 1.0 and value(text, "app_seconds_count") == 1.0
    assert value(text, "app_hits_created", route="/x") > 0


def test_scrape_reads_the_metrics_path_and_refuses_an_error_status():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            ok = self.path == "/metrics"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b"up 1\n" if ok else b"no")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert value(scrape(base + "/"), "up") == 1.0
        with pytest.raises(requests.HTTPError):
            scrape(base + "/elsewhere")
    finally:
        server.shutdown()
        server.server_close()


def test_workers_are_the_live_children_of_the_master():
    master = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        first, second = wait_for_workers(master.pid, 2, timeout=10)
        subprocess.run(["kill", str(first)], check=True, timeout=10)
        # Once the shell has reaped it, the killed child is no longer a worker.
        assert wait_for_workers(master.pid, 1, timeout=10, without=(first,)) == [second]
        assert worker_pids(second) == []
        with pytest.raises(TimeoutError, match="3 gunicorn workers"):
            wait_for_workers(master.pid, 3, timeout=0.3)
    finally:
        for child in worker_pids(master.pid):  # before the shell goes, while they are still its children
            subprocess.run(["kill", str(child)], timeout=10)
        master.kill()
        master.wait(10)
